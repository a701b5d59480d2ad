"""What other code and running systems know the project by: URL names, template paths, tag libraries, task names.

Moving modules must not change any of these (bookmarks, `{% url %}`, `{% include %}`,
`{% load %}`, queued Celery messages and the beat schedule all refer to them by name).
`tests/test_public_names.py` compares the live project against the dump committed in
`tests/fixtures/public_names.json`; after a deliberate change, regenerate it with
`DEBUG=true .venv/bin/python -m tests.public_names > tests/fixtures/public_names.json`.
"""

from __future__ import annotations

import json
from pathlib import Path


def _url_names() -> dict[str, str]:
    from django.urls import URLPattern, URLResolver, get_resolver

    names: dict[str, str] = {}

    def walk(patterns, prefix: str, namespace: str) -> None:  # type: ignore[no-untyped-def]
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
                walk(p.url_patterns, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern) and p.name:
                names[f"{namespace}{p.name}"] = prefix + str(p.pattern)

    walk(get_resolver().url_patterns, "", "")
    return dict(sorted(names.items()))


def _template_paths() -> list[str]:
    from django.apps import apps
    from django.conf import settings

    root = Path(settings.BASE_DIR)
    folders = [Path(d) for t in settings.TEMPLATES for d in t.get("DIRS", [])]
    folders += [
        Path(a.path) / "templates"
        for a in apps.get_app_configs()
        if Path(a.path).is_relative_to(root) and ".venv" not in Path(a.path).parts
    ]
    return sorted(
        str(f.relative_to(folder)) for folder in folders if folder.is_dir() for f in folder.rglob("*") if f.is_file()
    )


def _tag_libraries() -> list[str]:
    from django.template import engines

    libraries: dict[str, str] = engines["django"].engine.libraries  # type: ignore[attr-defined]
    return sorted(f"{name}: {path}" for name, path in libraries.items() if not path.startswith(("django.", "allauth.")))


def _tasks() -> dict[str, object]:
    from config.celery import app

    app.loader.import_default_modules()
    app.finalize()
    return {
        "registered": sorted(name for name in app.tasks if not name.startswith("celery.")),
        "beat_schedule": {k: v["task"] for k, v in sorted(app.conf.beat_schedule.items())},
    }


def public_names() -> dict[str, object]:
    return {
        "url_names": _url_names(),
        "template_paths": _template_paths(),
        "template_tag_libraries": _tag_libraries(),
        "celery": _tasks(),
    }


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    print(json.dumps(public_names(), indent=1, sort_keys=True))
