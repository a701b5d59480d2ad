"""Answer 503 with a clear message when a backing service is down, instead of a 500.

The cache (Redis in production) holds rate limits that sign-in and the sandbox
consult on every request, and the broker takes every queued job. When either is
unreachable the request cannot be served safely, but the visitor should learn
that it is a passing outage, not a bug: a JSON body for the API, a short page
otherwise. Views that can do better (queue later, skip a limit) catch these
errors themselves; this is the backstop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from kombu.exceptions import OperationalError as BrokerUnavailable
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, BrokerUnavailable)


class ServiceUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, _UNAVAILABLE):
            return None
        service = "queue" if isinstance(exception, BrokerUnavailable) else "cache"
        logger.error("%s unavailable while serving %s: %s", service, request.path, exception)
        message = f"A service the site depends on ({service}) is not answering. Please try again in a minute."
        response: HttpResponse
        if request.path.startswith("/api/"):
            response = JsonResponse({"error": message, "fields": {}}, status=503)
        else:
            response = HttpResponse(render_to_string("503.html", {"message": message}), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
