"""GitHub facts with no database: signatures, URLs, timestamps."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from django.utils.dateparse import parse_datetime

SIGNATURE_RE = re.compile(r"^sha256=([0-9a-f]{64})$")
PR_URL_RE = re.compile(
    r"^https://github\.com/(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/(?P<name>[A-Za-z0-9._-]{1,100})/pull/(?P<number>[0-9]{1,9})"
    # A tab of the PR page pasted from the address bar: /files, /commits(/sha), /checks.
    r"(?:/(?:files|commits|checks)(?:/[0-9a-fA-F]{7,40})?)?/?(?:[#?].*)?$"
)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_is_valid(*, body: bytes, header: str | None, secrets: list[str]) -> bool:
    """True when `header` is `sha256=<hex>` of `body` under any current secret (constant time)."""
    if not header or not SIGNATURE_RE.match(header):
        return False
    valid = False
    for secret in secrets:
        # Compare against every secret so timing does not reveal which one matched.
        valid |= hmac.compare_digest(sign(secret, body), header)
    return valid


@dataclass(frozen=True)
class PullRequestRef:
    repository: str
    number: int

    @property
    def url(self) -> str:
        return f"https://github.com/{self.repository}/pull/{self.number}"


def parse_pr_url(url: str) -> PullRequestRef | None:
    match = PR_URL_RE.match(url.strip())
    if not match:
        return None
    return PullRequestRef(f"{match['owner']}/{match['name']}", int(match["number"]))


def parse_time(value: str | None) -> datetime | None:
    return parse_datetime(value) if value else None
