"""`POST /webhooks/github/`: verify, store, answer. Processing happens in a task."""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from exercises.deliveries import delivery_store
from exercises.github import signature_is_valid

logger = logging.getLogger(__name__)


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _read_body(request: HttpRequest, limit: int) -> bytes | None:
    """The raw body, or None when it is over `limit` bytes.

    Read from the stream, not `request.body`: that one enforces Django's
    global 2.5 MB limit, and GitHub sends payloads up to 25 MB.
    """
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


@csrf_exempt
@require_POST
def github_webhook(request: HttpRequest) -> JsonResponse:
    body = _read_body(request, settings.GITHUB_WEBHOOK_MAX_BYTES)
    if body is None:
        return _error(413, "payload too large")
    if not signature_is_valid(
        body=body, header=request.headers.get("X-Hub-Signature-256"), secrets=settings.GITHUB_WEBHOOK_SECRETS
    ):
        return _error(401, "missing or invalid X-Hub-Signature-256")
    event = request.headers.get("X-GitHub-Event", "").strip()
    delivery_id = request.headers.get("X-GitHub-Delivery", "").strip()
    if not event or not delivery_id:
        return _error(400, "X-GitHub-Event and X-GitHub-Delivery are required")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _error(400, "body is not JSON")
    if not isinstance(payload, dict):
        return _error(400, "body is not a JSON object")
    delivery, created = delivery_store(
        hook_id=request.headers.get("X-GitHub-Hook-ID", "").strip()[:40],
        delivery_id=delivery_id[:80],
        event=event[:60],
        action=str(payload.get("action") or ""),
        payload=payload,
    )
    return JsonResponse({"delivery": delivery.delivery_id, "duplicate": not created}, status=202 if created else 200)
