"""Shared by the static-module tests: the project's ES modules, parsed, and a production collectstatic."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from config import static_modules
from config.static_modules import Import

JS_ROOT = Path(settings.BASE_DIR) / "static" / "js"
PRODUCTION_STORAGES = {
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "config.storage.StaticStorage"},
}


def modules() -> list[Path]:
    """Every ES module of the project (vendored libraries are not ours)."""
    return sorted(p for p in JS_ROOT.rglob("*.js") if "vendor" not in p.parts and _is_module(p))


def _is_module(path: Path) -> bool:
    text = path.read_text()
    return bool(static_modules.imports(text) or static_modules.exports(text))


def imports(path: Path) -> list[Import]:
    return static_modules.imports(path.read_text())


def exports(path: Path) -> set[str]:
    return static_modules.exports(path.read_text())


def resolve(path: Path, target: str) -> Path:
    return (path.parent / target).resolve()


def closure(entry: Path) -> set[Path]:
    """Every module `entry` imports, directly or not (not the entry itself)."""
    seen: set[Path] = set()
    stack = [entry]
    while stack:
        current = stack.pop()
        for imp in imports(current):
            target = resolve(current, imp.path)
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def collectstatic(root: Path) -> None:
    """What a deploy runs: every app's static files, hashed and compressed, into `root`."""
    with override_settings(STATIC_ROOT=root, STORAGES=PRODUCTION_STORAGES):
        call_command("collectstatic", interactive=False, verbosity=0)
