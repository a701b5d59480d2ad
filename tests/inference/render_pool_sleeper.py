"""A helper for tests/inference/test_template_bounds.py: sleeps in C (time.sleep) as long as asked."""

from __future__ import annotations

import time
from typing import Any

from inference import render_pool


def _handle(request: dict[str, Any]) -> dict[str, Any]:
    time.sleep(request["sleep"])
    return {"slept": request["sleep"]}


if __name__ == "__main__":
    render_pool.serve(_handle)
