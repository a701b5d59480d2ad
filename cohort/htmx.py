"""What the pages need to know about htmx requests."""

from __future__ import annotations

from django.http import HttpRequest


def is_htmx(request: HttpRequest) -> bool:
    """An htmx request wants a fragment back, not a whole page."""
    return request.headers.get("HX-Request") == "true"
