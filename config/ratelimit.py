"""A fixed-window request counter in the shared cache, for per-user and per-token limits."""

from __future__ import annotations

import math
import time

from django.core.cache import cache


def seconds_until_allowed(key: str, *, limit: int, window: int = 60) -> int:
    """Count one hit against `key`; 0 while within `limit` hits per `window` seconds, else the wait in seconds.

    Windows are aligned to the clock, so every process agrees on them without
    coordination; the counter lives twice as long as its window.
    """
    current = int(time.time() // window)
    counter = f"rate:{key}:{current}"
    cache.add(counter, 0, window * 2)
    if cache.incr(counter) <= limit:
        return 0
    return max(1, math.ceil((current + 1) * window - time.time()))
