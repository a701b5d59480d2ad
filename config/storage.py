"""Static files storage for production: WhiteNoise's compressed, hashed-name manifest storage.

The sandbox pages are ES modules that import each other (`import { el } from "../lib/dom.js";`).
Django's manifest storage rewrites those import paths to the hashed names only when
`support_js_module_import_aggregation` is on. Without it every imported module would be
served under its plain name, with WhiteNoise's short cache lifetime, and a browser could mix
an old module with a new one after a deploy. Module imports must end with a semicolon and
must not form a cycle (the hashes would never settle); tests/test_static_modules.py checks both.
"""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True
