from __future__ import annotations

import pytest

from exercises.github import sign, signature_is_valid
from exercises.models import DeliveryStatus, WebhookDelivery
from tests.exercises import payloads
from tests.helpers import queued

pytestmark = pytest.mark.django_db


def test_signature_matches_githubs_published_vector():
    assert sign("It's a Secret to Everybody", b"Hello, World!") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


def test_signature_accepts_any_current_secret_for_rotation():
    body = b"{}"
    assert signature_is_valid(body=body, header=sign("new", body), secrets=["old", "new"])
    assert not signature_is_valid(body=body, header=sign("retired", body), secrets=["old", "new"])


def test_intake_signed_opened_delivery_is_stored_and_one_task_published(post_event, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post_event("pull_request", payloads.pr_event("opened"), delivery="d-1")

    assert response.status_code == 202
    delivery = WebhookDelivery.objects.get()
    assert (delivery.event, delivery.action, delivery.delivery_id, delivery.hook_id) == (
        "pull_request",
        "opened",
        "d-1",
        "42",
    )
    assert delivery.status == DeliveryStatus.PENDING
    assert len(queued(callbacks)) == 1


@pytest.mark.parametrize(
    "header",
    [
        None,
        "sha1=0123456789abcdef0123456789abcdef01234567",
        "sha256=zz",
        "sha256=" + "0" * 64,
        "SHA256=" + "0" * 64,
    ],
)
def test_intake_bad_or_missing_signature_is_401_and_nothing_stored(client, header):
    body = payloads.encode(payloads.pr_event("opened"))
    headers = {"HTTP_X_GITHUB_EVENT": "pull_request", "HTTP_X_GITHUB_DELIVERY": "d-x"}
    if header:
        headers["HTTP_X_HUB_SIGNATURE_256"] = header
    headers["HTTP_X_HUB_SIGNATURE"] = "sha1=" + "0" * 40  # the legacy header never counts

    response = client.post("/webhooks/github/", data=body, content_type="application/json", **headers)

    assert response.status_code == 401
    assert not WebhookDelivery.objects.exists()


def test_intake_one_flipped_digit_is_401(client):
    body = payloads.encode(payloads.pr_event("opened"))
    headers = payloads.signed_headers(body, event="pull_request", delivery="d-flip")
    good = headers["HTTP_X_HUB_SIGNATURE_256"]
    headers["HTTP_X_HUB_SIGNATURE_256"] = good[:-1] + ("0" if good[-1] != "0" else "1")

    assert client.post("/webhooks/github/", data=body, content_type="application/json", **headers).status_code == 401
    assert not WebhookDelivery.objects.exists()


def test_intake_wrong_secret_is_401(post_event):
    assert post_event("pull_request", payloads.pr_event("opened"), secret="not-the-secret").status_code == 401


def test_intake_rotated_old_secret_still_accepted(post_event):
    assert post_event("pull_request", payloads.pr_event("opened"), secret="old-secret").status_code == 202


@pytest.mark.parametrize("missing", ["HTTP_X_GITHUB_EVENT", "HTTP_X_GITHUB_DELIVERY"])
def test_intake_missing_event_or_delivery_header_is_400(client, missing):
    body = payloads.encode(payloads.pr_event("opened"))
    headers = payloads.signed_headers(body, event="pull_request", delivery="d-2")
    del headers[missing]

    assert client.post("/webhooks/github/", data=body, content_type="application/json", **headers).status_code == 400
    assert not WebhookDelivery.objects.exists()


def test_intake_reserialized_body_under_original_signature_is_rejected(client):
    payload = payloads.pr_event("opened")
    original = payloads.encode(payload)
    headers = payloads.signed_headers(original, event="pull_request", delivery="d-3")
    reserialized = original.replace(b", ", b",")

    assert (
        client.post("/webhooks/github/", data=reserialized, content_type="application/json", **headers).status_code
        == 401
    )


def test_intake_unicode_escapes_signed_as_sent_are_accepted(client):
    body = b'{"action": "opened", "zen": "caf\\u00e9 \\ud83d\\ude00"}'
    headers = payloads.signed_headers(body, event="pull_request", delivery="d-4")

    assert client.post("/webhooks/github/", data=body, content_type="application/json", **headers).status_code == 202
    assert WebhookDelivery.objects.get().payload["zen"] == "café 😀"


def test_intake_get_is_405(client):
    assert client.get("/webhooks/github/").status_code == 405


def test_intake_invalid_json_with_valid_signature_is_400(client):
    body = b"{not json"
    headers = payloads.signed_headers(body, event="pull_request", delivery="d-5")

    assert client.post("/webhooks/github/", data=body, content_type="application/json", **headers).status_code == 400


def test_intake_ping_is_2xx_and_nothing_else_happens(post_event, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post_event("ping", {"zen": "Keep it logically awesome.", "hook_id": 42})

    assert response.status_code == 202
    assert WebhookDelivery.objects.get().status == DeliveryStatus.IGNORED
    assert queued(callbacks) == []


def test_intake_same_delivery_twice_is_stored_once(post_event):
    payload = payloads.pr_event("opened")

    first = post_event("pull_request", payload, delivery="same")
    second = post_event("pull_request", payload, delivery="same")

    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json()["duplicate"] is True
    assert WebhookDelivery.objects.count() == 1


def test_store_keeps_every_field_as_save_would_and_a_duplicate_leaves_the_transaction_usable():
    from django.db import transaction

    from exercises.deliveries import delivery_store

    payload = payloads.pr_event("opened")
    with transaction.atomic():
        first, created = delivery_store(
            hook_id="7", delivery_id="x", event="pull_request", action="opened", payload=payload
        )
        again, created_again = delivery_store(
            hook_id="7", delivery_id="x", event="pull_request", action="edited", payload={}
        )
        # The duplicate raised nothing, so the outer transaction can go on writing.
        WebhookDelivery.objects.filter(pk=first.pk).update(error="still usable")

    stored = WebhookDelivery.objects.get()
    assert (created, created_again, again.pk) == (True, False, first.pk)
    assert (stored.payload, stored.action, stored.attempts, stored.error) == (payload, "opened", 0, "still usable")
    assert stored.received_at is not None and stored.processed_at is None


def test_intake_same_delivery_id_from_another_hook_is_kept(post_event):
    payload = payloads.pr_event("opened")

    post_event("pull_request", payload, delivery="shared", hook_id="1")
    post_event("pull_request", payload, delivery="shared", hook_id="2")

    assert WebhookDelivery.objects.count() == 2


def test_intake_accepts_5mb_body(post_event):
    payload = payloads.pr_event("opened")
    payload["pull_request"]["body"] = "x" * (5 * 1024 * 1024)

    assert post_event("pull_request", payload).status_code == 202


def test_intake_over_25mb_is_413_not_500(client):
    body = b'{"a": "' + b"x" * (25 * 1024 * 1024) + b'"}'
    headers = payloads.signed_headers(body, event="pull_request", delivery="big")

    assert client.post("/webhooks/github/", data=body, content_type="application/json", **headers).status_code == 413
    assert not WebhookDelivery.objects.exists()


def test_intake_broker_down_still_stores_and_answers_quickly(post_event, caplog, django_capture_on_commit_callbacks):
    import time

    from config.celery import app

    original = app.conf.broker_url, app._pool, app.amqp._producer_pool
    # Nothing listens on port 1; the pools are dropped so the next publish really connects there.
    app.conf.broker_url, app._pool, app.amqp._producer_pool = "redis://127.0.0.1:1/0", None, None
    try:
        started = time.monotonic()
        with (
            caplog.at_level("WARNING", logger="exercises.deliveries"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            response = post_event("pull_request", payloads.pr_event("opened"))
        elapsed = time.monotonic() - started
    finally:
        app.conf.broker_url, app._pool, app.amqp._producer_pool = original

    assert response.status_code == 202
    assert elapsed < 5, elapsed
    assert "the sweep will pick it up" in caplog.text  # the publish really failed
    assert WebhookDelivery.objects.get().status == DeliveryStatus.PENDING
