"""Small helpers the test modules share (instead of a copy in each)."""

from __future__ import annotations

import datetime as dt
import json
import re

from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cohort.models import HelpRequest, Membership, OfficeHoursSession, SessionStatus, User
from cohort.office_hours import live_services
from inference.models import RunStatus, SandboxModel, SandboxRun
from tests.factories import SessionFactory

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


# --- The live help queue (tests/cohort/office_hours/test_help_queue_*.py) ---------------

SHA = "a3f1" * 16


def _live(world, number: int = 1) -> OfficeHoursSession:  # type: ignore[no-untyped-def]
    session = SessionFactory(
        cohort=world.cohort,
        number=number,
        status=SessionStatus.LIVE,
        starts_at=timezone.now() - dt.timedelta(minutes=5),
    )
    session.leads.set([world.lead])
    return session


def _join(session, membership, description: str = "My build fails", **capsule):  # type: ignore[no-untyped-def]
    return live_services.help_request_join(
        session=session, membership=membership, description=description, capsule=live_services.Capsule(**capsule)
    )


def _rows() -> list[dict]:
    return list(HelpRequest.objects.order_by("pk").values())


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- Cached fragments (config/table_versions.py) -----------------------------------------

_TABLE_READ = re.compile(r'\b(?:FROM|JOIN)\s+[`"]?(\w+)[`"]?', re.IGNORECASE)


def tables_read(captured: CaptureQueriesContext) -> set[str]:
    """Every table the captured queries read: a cached fragment's `tables` must include them all."""
    return {name for query in captured.captured_queries for name in _TABLE_READ.findall(query["sql"])}


def queued(callbacks: list) -> list:  # type: ignore[type-arg]
    """The on-commit callbacks a test counts (queued tasks), without the table stamps' own (config.table_versions)."""
    return [c for c in callbacks if not hasattr(c, "pending_tables")]
