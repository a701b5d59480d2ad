"""Storing, processing, replaying and sweeping GitHub deliveries."""

from __future__ import annotations

import functools
import logging
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Field
from django.utils import timezone

from config.publish import publish_after_commit_or_leave_to_sweep, publish_now_or_leave_to_sweep
from exercises import tasks
from exercises.events import apply_delivery
from exercises.models import DeliveryStatus, WebhookDelivery

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


def delivery_store(
    *, hook_id: str, delivery_id: str, event: str, action: str, payload: dict[str, Any]
) -> tuple[WebhookDelivery, bool]:
    """Keep the delivery (once per hook and delivery id), then publish its processing.

    Runs for every delivery GitHub sends, under a latency target, so it is one
    INSERT ... ON CONFLICT DO NOTHING in autocommit: no transaction around a
    single statement, no IntegrityError (and savepoint) for a redelivery.
    """
    ping = event == "ping"
    delivery = WebhookDelivery(
        hook_id=hook_id,
        delivery_id=delivery_id,
        event=event,
        action=action[:60],
        payload=payload,
        status=DeliveryStatus.IGNORED if ping else DeliveryStatus.PENDING,
        processed_at=timezone.now() if ping else None,
    )
    delivery.pk = _insert_unless_stored(delivery)
    if delivery.pk is None:
        return WebhookDelivery.objects.get(hook_id=hook_id, delivery_id=delivery_id), False
    delivery._state.adding = False
    if not ping:
        # Immediately in autocommit; after the outer transaction commits otherwise.
        delivery_publish_after_commit(delivery_id=delivery.pk)
    return delivery, True


def _insert_unless_stored(delivery: WebhookDelivery) -> int | None:
    """The new row's id, or None when this hook's delivery id is already stored.

    Values go through each field's own preparation (defaults, auto_now_add,
    JSON), as `save()` would; only the statement is written out, because the
    ORM cannot say "skip duplicates and give me the id" for one row.
    """
    fields, sql = _insert_statement(connection.vendor)
    values = [field.get_db_prep_save(field.pre_save(delivery, add=True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    return row[0] if row else None


@functools.cache
def _insert_statement(vendor: str) -> tuple[list[Field[Any, Any]], str]:
    """The fields and the INSERT of `_insert_unless_stored`, built once per database vendor."""
    meta = WebhookDelivery._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    # Identifiers come from the model and are quoted; every value is a bound parameter.
    columns = ", ".join(quote(str(field.column)) for field in fields)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({quote('hook_id')}, {quote('delivery_id')}) DO NOTHING "
        f"RETURNING {quote(str(meta.pk.column))}"
    )
    return fields, sql


def delivery_publish_after_commit(*, delivery_id: int) -> None:
    """Publish once the transaction commits, without letting a broker outage fail the caller: the sweep publishes it later."""
    publish_after_commit_or_leave_to_sweep(
        tasks.process_delivery, what=f"delivery {delivery_id}", delivery_id=delivery_id
    )


def delivery_process(*, delivery_id: int) -> str | None:
    """Apply a delivery once. Returns the final status, or None if it was already done or is gone.

    The row lock makes a second run (redelivery, sweep, replay) wait and then see
    the delivery already processed; a failure rolls back everything it wrote.
    """
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None or delivery.status in (DeliveryStatus.PROCESSED, DeliveryStatus.IGNORED):
            return None
        applied = apply_delivery(delivery)
        delivery.status = DeliveryStatus.PROCESSED if applied else DeliveryStatus.IGNORED
        delivery.processed_at = timezone.now()
        delivery.error = ""
        delivery.attempts += 1
        delivery.save(update_fields=["status", "processed_at", "error", "attempts"])
        return delivery.status


def delivery_record_failure(*, delivery_id: int, error: str, final: bool) -> None:
    WebhookDelivery.objects.filter(pk=delivery_id).exclude(
        status__in=[DeliveryStatus.PROCESSED, DeliveryStatus.IGNORED]
    ).update(
        attempts=F("attempts") + 1,
        error=error[:5000],
        status=DeliveryStatus.FAILED if final else DeliveryStatus.PENDING,
    )


@transaction.atomic
def delivery_replay(*, delivery: WebhookDelivery) -> None:
    """Apply a stored delivery again (after a fix, or to rebuild state); safe because handlers are idempotent."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.PENDING, error="", attempts=0)
    delivery_publish_after_commit(delivery_id=delivery.pk)


def deliveries_sweep(*, older_than: timedelta = timedelta(minutes=2), limit: int = 500) -> int:
    """Publish deliveries still pending after `older_than` (broker or worker was down)."""
    cutoff = timezone.now() - older_than
    ids = list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, received_at__lt=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    for delivery_id in ids:
        publish_now_or_leave_to_sweep(tasks.process_delivery, what=f"delivery {delivery_id}", delivery_id=delivery_id)
    return len(ids)
