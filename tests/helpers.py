"""Small helpers the test modules share (instead of a copy in each)."""

from __future__ import annotations

import json

from django.test import Client
from django.urls import reverse

from cohort.models import Membership
from inference.models import RunStatus, SandboxModel, SandboxRun

# The header htmx sends: views answer with the fragment instead of the whole page.
HTMX = {"HTTP_HX_REQUEST": "true"}


def cohort_url(name: str, *args: object) -> str:
    return reverse(f"cohort:{name}", args=args)


def post_json(client: Client, url: str, payload: object):  # type: ignore[no-untyped-def]
    """POST `payload` as JSON (a str or bytes is sent as it is, for malformed bodies)."""
    body = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    return client.post(url, data=body, content_type="application/json")


def make_finished_run(membership: Membership, model: SandboxModel) -> SandboxRun:
    """A done two-token run of `membership`'s, so API paths with a run id have one to find."""
    return SandboxRun.objects.create(
        membership=membership,
        model=model,
        request={"prompt": "x"},
        params={"temperature": 0.8, "seed": 1, "max_tokens": 2},
        seed=1,
        status=RunStatus.DONE,
        tokens=[{"id": 1, "text": "a"}, {"id": 2, "text": "b"}],
        output_text="ab",
    )
