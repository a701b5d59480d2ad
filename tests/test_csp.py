"""A Content-Security-Policy on every response that lets no inline script run (issue 10, item 12).

The browser side (htmx, mermaid, the sandbox and labs working under the policy, with no violation
reported) is checked in tests/e2e/test_accessibility.py and the other browser tests.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

TEMPLATES = Path(settings.BASE_DIR) / "templates"


def _policy(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    header = response.headers.get("Content-Security-Policy", "")
    directives = [part.strip().split() for part in header.split(";") if part.strip()]
    return {d[0]: d[1:] for d in directives}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/", "/accounts/login/", "/healthz", "/api/sandbox/models", "/admin/login/", "/no-such-page/"]
)
def test_every_response_carries_a_policy_without_inline_script(path):
    response = Client().get(path)

    policy = _policy(response)
    assert policy.get("script-src") == ["'self'"], response.headers.get("Content-Security-Policy")
    assert policy.get("default-src") == ["'self'"]
    assert policy.get("object-src") == ["'none'"]
    assert policy.get("base-uri") == ["'self'"]
    assert policy.get("frame-ancestors") == ["'none'"]
    assert "'unsafe-eval'" not in str(policy)


@pytest.mark.django_db
def test_signed_in_pages_carry_the_policy(world):
    client = Client()
    client.force_login(world.alice)

    for path in ("/", "/sandbox/", "/profile/"):
        assert _policy(client.get(path)).get("script-src") == ["'self'"], path


def test_no_template_has_an_inline_script_or_event_handler():
    # Inline code would be blocked by the policy: it belongs in static/js.
    inline_script = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
    handler = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE)
    javascript_url = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)
    found = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        for pattern in (inline_script, handler, javascript_url):
            found += [f"{path.relative_to(TEMPLATES)}: {m.group(0)[:80]}" for m in pattern.finditer(text)]

    assert found == []
