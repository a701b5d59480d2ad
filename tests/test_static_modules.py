"""The front end is small ES modules without a build step; these tests keep that honest.

Every import resolves to a module that exports the names; there is no cycle; no module is
over ~500 lines; the shared helpers live once, in static/js/lib/; each page preloads every
module its entry imports (one round trip); and a production collectstatic (manifest storage)
rewrites every import to a hashed file that exists, so a deploy never mixes old and new modules.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.template import Context, Template

from tests.static_build import JS_ROOT, closure, collectstatic, exports, imports, modules, resolve

TEMPLATES = Path(settings.BASE_DIR) / "templates"
SHARED_HELPERS = ["csrfToken", "api", "el", "visibleText", "pct", "bytes", "ms", "num", "setText", "sleep"]
HASHED = re.compile(r"\.[0-9a-f]{12}\.js$")


def _rel(path: Path) -> str:
    return path.relative_to(JS_ROOT).as_posix()


def test_the_sandbox_and_lab_pages_are_modules():
    names = {_rel(p) for p in modules()}
    assert {
        "sandbox.js",
        "labs.js",
        "lab-detail.js",
        "inspector.js",
        "experiment.js",
        "lib/http.js",
        "lib/dom.js",
        "lib/format.js",
    } <= names


@pytest.mark.parametrize("module", modules(), ids=_rel)
def test_every_import_exists_and_exports_what_is_imported(module: Path):
    for imp in imports(module):
        target = resolve(module, imp.path)
        assert imp.path.startswith((".", "/")), f"{_rel(module)}: bare import {imp.path!r} needs a build step"
        assert target.is_file(), f"{_rel(module)} imports {imp.path}, which does not exist"
        missing = set(imp.names) - exports(target)
        assert not missing, f"{_rel(module)} imports {sorted(missing)} from {imp.path}, which does not export them"


def _defined_here(module: Path) -> set[str]:
    text = module.read_text()
    names = set(re.findall(r"(?:function\*?|const|let|var|class)\s+([\w$]+)", text))
    return names | {name for imp in imports(module) for name in imp.names}


@pytest.mark.parametrize("module", modules(), ids=_rel)
def test_every_shared_name_a_module_uses_is_imported(module: Path):
    # A helper used without its import fails only when that line runs in a browser.
    shared = {name: target for target in modules() for name in exports(target)}
    text = re.sub(r'''//.*|`[^`]*`|"(?:[^"\\]|\\.)*"''', " ", module.read_text())
    text = re.sub(r"[\w$]+(?:\s*\??\.\s*[\w$]+)+", " member ", text)  # a.b.c( is a method call
    used = set(re.findall(r"(?<![\w$.])([\w$]+)\s*\(", text)) | set(re.findall(r"(?<![\w$.])([A-Z][A-Z_]+)\b", text))
    missing = {name for name in used if name in shared and shared[name] != module} - _defined_here(module)
    assert not missing, f"{_rel(module)} uses {sorted(missing)} without importing them"


def test_imports_form_no_cycle():
    # A cycle would also stop the manifest storage: the hashed names would never settle.
    state: dict[Path, str] = {}

    def visit(module: Path, path: list[Path]) -> None:
        state[module] = "open"
        for imp in imports(module):
            target = resolve(module, imp.path)
            assert state.get(target) != "open", "import cycle: " + " -> ".join(_rel(p) for p in [*path, target])
            if target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in modules():
        if module not in state:
            visit(module, [module])


@pytest.mark.parametrize("module", modules(), ids=_rel)
def test_no_module_is_over_500_lines(module: Path):
    assert len(module.read_text().splitlines()) <= 500


def test_shared_helpers_are_defined_once_in_lib():
    definition = {
        name: re.compile(
            rf"^(?:export\s+)?(?:async\s+)?(?:function\s+{re.escape(name)}\b|const\s+{re.escape(name)}\s*=)", re.M
        )
        for name in SHARED_HELPERS
    }
    for name, pattern in definition.items():
        where = [_rel(p) for p in modules() + [JS_ROOT / "live-session.js"] if pattern.search(p.read_text())]
        assert len(where) == 1 and where[0].startswith("lib/"), f"{name} is defined in {where}"


@pytest.mark.parametrize("entry", ["sandbox.js", "labs.js", "lab-detail.js", "inspector.js", "experiment.js"])
def test_module_script_preloads_every_module_the_entry_imports(entry: str):
    html = Template("{% load sandbox_tags %}{% module_script path %}").render(Context({"path": f"js/{entry}"}))
    assert re.findall(r'<script type="module" src="/static/js/([^"]+)">', html) == [entry]
    preloads = re.findall(r'<link rel="modulepreload" href="/static/js/([^"]+)">', html)
    assert sorted(preloads) == sorted(_rel(p) for p in closure(JS_ROOT / entry))


def test_module_pages_use_module_script():
    for template in TEMPLATES.joinpath("inference").rglob("*.html"):
        text = template.read_text()
        assert '<script type="module"' not in text, (
            f"{template}: use {{% module_script %}} so its imports are preloaded"
        )


def test_collectstatic_rewrites_every_module_import_to_a_hashed_file(tmp_path: Path):
    collectstatic(tmp_path)
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    for module in modules():
        name = f"js/{_rel(module)}"
        hashed = tmp_path / manifest[name]
        assert HASHED.search(hashed.name), name
        for imp in imports(hashed):
            target = resolve(hashed, imp.path)
            assert HASHED.search(imp.path), f"{manifest[name]} still imports the unhashed {imp.path}"
            assert target.is_file(), f"{manifest[name]} imports {imp.path}, which collectstatic did not write"
            assert target.relative_to(tmp_path).as_posix() in manifest.values()
        # The hashed module is the source with only its import paths changed.
        assert len(imports(hashed)) == len(imports(module))
        assert IMPORT_PATHS.sub("", hashed.read_text()) == IMPORT_PATHS.sub("", module.read_text())


IMPORT_PATHS = re.compile(r"""from\s*["'][^"']+["']\s*;|import\s*["'][^"']+["']\s*;""")
