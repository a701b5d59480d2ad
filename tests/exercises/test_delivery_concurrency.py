"""Two workers processing the same delivery at once, on PostgreSQL (row locks are what make it safe).

SQLite serialises all writers, so the race this guards against only exists on
PostgreSQL; CI runs the suite there. Each thread has its own connection, as two
worker processes would. Deliveries are stored without publishing a task, so the
session's real worker (if another test started it) stays out of the race.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from exercises.deliveries import delivery_process
from exercises.models import DeliveryStatus, Submission, TimelineEvent, WebhookDelivery
from tests.exercises import payloads

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (DATABASE_URL)"),
]


def _stored(event: str, payload: dict, delivery_id: str) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        hook_id="42", delivery_id=delivery_id, event=event, action=payload["action"], payload=payload
    )


def _race(delivery_id: int, n: int = 2) -> list[str | None]:
    barrier = threading.Barrier(n)
    results: list[str | None] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            results.append(delivery_process(delivery_id=delivery_id))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    return results


def test_two_workers_processing_one_delivery_apply_it_once(exercise):
    delivery = _stored("pull_request", payloads.pr_event("opened", mergeable_state="dirty"), "d-1")

    results = _race(delivery.pk)

    assert sorted(map(str, results)) == ["None", DeliveryStatus.PROCESSED]
    assert Submission.objects.count() == 1
    assert TimelineEvent.objects.filter(kind="pr_opened").count() == 1
    assert TimelineEvent.objects.filter(kind="conflict").count() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PROCESSED, 1)


def test_two_deliveries_creating_the_same_submission_at_once_give_one(exercise):
    ids = [
        _stored("pull_request", payloads.pr_event("opened"), "d-opened").pk,
        _stored("pull_request", payloads.pr_event("edited", updated_at="2026-03-10T10:01:00Z"), "d-edited").pk,
    ]
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def work(delivery_id: int) -> None:
        try:
            barrier.wait()
            outcomes.append(delivery_process(delivery_id=delivery_id))
        except Exception as exc:
            outcomes.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # One may lose the unique-constraint race; it rolled back and its retry applies it cleanly.
    for delivery_id in ids:
        if WebhookDelivery.objects.get(pk=delivery_id).status != DeliveryStatus.PROCESSED:
            assert delivery_process(delivery_id=delivery_id) == DeliveryStatus.PROCESSED
    assert Submission.objects.count() == 1
    assert TimelineEvent.objects.filter(kind__in=["pr_opened", "pr_edited"]).count() == 2
