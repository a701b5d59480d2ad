from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, object]:
    return {"GITHUB_LOGIN_ENABLED": settings.GITHUB_LOGIN_ENABLED, "SITE_NAME": "First Break AI"}
