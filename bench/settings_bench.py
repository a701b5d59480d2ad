"""Production settings plus a URLconf with the bench-only floor view; used by bench/pages.py only.

The `config` package must be imported before Django loads this module:
config/__init__.py reads django.conf.settings while it is imported, and if
that happens from inside this module's own import, Django sees it half
loaded. gunicorn imports config.wsgi first; bench/pages.py imports config.
"""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.benchurls"
