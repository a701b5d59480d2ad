"""Production settings plus a URLconf with the bench-only floor view; used by bench/pages.py only."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.benchurls"
