"""The project's ES modules as a graph: which module imports which (static/js, no build step).

Pages load an entry module and preload every module it imports (`{% module_script %}`), so the
browser fetches them all in one round trip instead of one import level at a time. The same parser
backs the tests that keep the graph sound (tests/test_static_modules.py).
"""

from __future__ import annotations

import functools
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders

# `import { a, b as c } from "./x.js";`, `import "./x.js";`, `export { a } from "./x.js";`
IMPORT = re.compile(r"""^(?:import|export)\s+(?:(\{[^}]*\}|\*\s+as\s+\w+|\w+)\s+from\s+)?["']([^"']+)["']\s*;""", re.M)
EXPORT = re.compile(r"^export\s+(?:async\s+)?(?:function\*?|const|let|class)\s+([\w$]+)", re.M)


@dataclass(frozen=True)
class Import:
    names: tuple[str, ...]
    path: str


def imports(text: str) -> list[Import]:
    found = []
    for names, target in IMPORT.findall(text):
        inner = names.strip("{} \n") if names.startswith("{") else ""
        imported = tuple(part.split(" as ")[0].strip() for part in inner.split(",") if part.strip())
        found.append(Import(imported, target))
    return found


def exports(text: str) -> set[str]:
    return set(EXPORT.findall(text))


def dependencies(entry: str) -> list[str]:
    """Every static path (`js/lib/dom.js`) that the module at static path `entry` imports, directly or not."""
    if settings.DEBUG:
        return _dependencies(entry)  # files change while developing
    return _cached_dependencies(entry)


def _dependencies(entry: str) -> list[str]:
    seen: list[str] = []
    stack = [entry]
    while stack:
        current = stack.pop()
        source = finders.find(current)
        if source is None:
            raise FileNotFoundError(f"static module {current} not found")
        for imp in imports(Path(source).read_text(encoding="utf-8")):
            target = posixpath.normpath(posixpath.join(posixpath.dirname(current), imp.path))
            if target not in seen:
                seen.append(target)
                stack.append(target)
    return seen


_cached_dependencies = functools.lru_cache(maxsize=32)(_dependencies)
