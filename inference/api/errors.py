"""Every answer the API gives that is not a success, in one shape: `{"error": "...", "fields": {...}}`.

The pages (sandbox.js, labs.js) show `error` and put each `fields` entry next
to its input, so messages are written for a learner: they say what is wrong
and state the limit (the Django-form wording the pages were built with).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.http.request import RawPostDataException
from kombu.exceptions import OperationalError as BrokerUnavailable
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from inference import labs, services

logger = logging.getLogger(__name__)

INVALID = "Invalid parameters."
_FIELD_TAG = re.compile(r"^\[(?P<field>\w+)\] (?P<message>.*)$", re.DOTALL)


class ApiError(Exception):
    """Answer `status` with `message` (and field errors, headers, extra keys) instead of a result."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        fields: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.status = status
        self.message = message
        self.fields = fields
        self.headers = headers or {}
        self.extra = extra
        super().__init__(message)


class BodyError(ValueError):
    """A body that is not a JSON object; the message says how."""


class JSONObjectParser(Parser):
    """JSON bodies, with a learner-readable reason when they are not a JSON object."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        try:
            data = json.loads(request.body)
        except RecursionError:
            # json's C scanner recurses once per nesting level.
            raise BodyError("The body is nested too deeply.") from None
        except (ValueError, UnicodeDecodeError):
            raise BodyError("The body is not JSON.") from None
        if not isinstance(data, dict):
            raise BodyError("The body must be a JSON object.")
        return data


def _respond(api: NinjaAPI, request: HttpRequest, status: int, body: dict[str, Any]) -> HttpResponse:
    return api.create_response(request, body, status=status)


# --- Validation messages ------------------------------------------------------------------

_TEMPLATES = {
    "missing": "This field is required.",
    "extra_forbidden": "This field is not accepted here.",
    "less_than_equal": "Ensure this value is less than or equal to {le}.",
    "greater_than_equal": "Ensure this value is greater than or equal to {ge}.",
    "less_than": "Ensure this value is less than {lt}.",
    "greater_than": "Ensure this value is greater than {gt}.",
    "int_type": "A whole number is required.",
    "int_parsing": "A whole number is required.",
    "int_from_float": "A whole number is required.",
    "float_type": "A number is required.",
    "float_parsing": "A number is required.",
    "finite_number": "A finite number is required.",
    "bool_type": "true or false is required.",
    "bool_parsing": "true or false is required.",
    "string_type": "A text is required.",
    "string_too_long": "Ensure this value has at most {max_length:,} characters.",
    "string_too_short": "Ensure this value has at least {min_length} characters.",
    "string_pattern_mismatch": "Use letters, digits, '-' and '_' only.",
    "list_type": "A list is required.",
    "too_long": "Give at most {max_length} items.",
    "too_short": "Give at least {min_length} items.",
    "literal_error": "Choose one of {expected}.",
    "dict_type": "An object is required.",
    "model_type": "An object is required.",
    "model_attributes_type": "An object is required.",
}


def _message(error: dict[str, Any]) -> str:
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    template = _TEMPLATES.get(kind)
    if template is None:
        return str(error.get("msg", "Invalid value.")).rstrip(".") + "."
    # A float limit of 2.0 reads as 2, as the pages' number inputs show it.
    ctx = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in ctx.items()}
    try:
        return template.format(**ctx)
    except (KeyError, ValueError, IndexError):
        return str(error.get("msg", "Invalid value.")).rstrip(".") + "."


def _where(path: tuple[Any, ...]) -> str:
    """`("messages", 0, "role")` -> "item 1, role" (a learner counts from one)."""
    parts = [f"item {p + 1}" if isinstance(p, int) else str(p) for p in path]
    return ", ".join(parts)


def field_errors(errors: list[dict[str, Any]]) -> tuple[dict[str, list[str]], list[str]]:
    """ninja's validation errors as (messages per top-level field, messages about the whole body)."""
    fields: dict[str, list[str]] = {}
    general: list[str] = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        source, rest = (loc[0], loc[1:]) if loc else ("", ())
        if source == "body":
            rest = rest[1:]  # the view's body parameter name
        message = _message(error)
        tagged = _FIELD_TAG.match(message) if not rest else None
        if tagged:  # a schemas.FieldError
            fields.setdefault(tagged["field"], []).append(tagged["message"])
        elif not rest:
            general.append("The body must be a JSON object." if source == "body" else message)
        else:
            name, inner = str(rest[0]), rest[1:]
            if error.get("type") == "extra_forbidden" and not inner:
                message = f"Unknown field “{name}”: this endpoint does not take it."
            fields.setdefault(name, []).append(f"{_where(inner).capitalize()}: {message}" if inner else message)
    return fields, general


# --- Handlers --------------------------------------------------------------------------------


def install(api: NinjaAPI) -> None:
    """Replace ninja's `{"detail": ...}` answers with the platform's error shape."""

    @api.exception_handler(ApiError)
    def api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        body: dict[str, Any] = {"error": exc.message, **exc.extra}
        if exc.fields is not None:
            body["fields"] = exc.fields
        response = _respond(api, request, exc.status, body)
        for name, value in exc.headers.items():
            response[name] = value
        return response

    @api.exception_handler(ValidationError)
    def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        fields, general = field_errors(exc.errors)
        return _respond(api, request, 400, {"error": " ".join([INVALID, *general]), "fields": fields})

    @api.exception_handler(AuthenticationError)
    def anonymous(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return _respond(api, request, 401, {"error": "Sign in first."})

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if isinstance(exc.__cause__, BodyError):
            return _respond(api, request, 400, {"error": str(exc.__cause__)})
        if exc.status_code == 403 and "CSRF" in exc.message:
            # The session cookie came without the page's CSRF token: a stale tab or another site.
            message = "The request was refused (CSRF check failed). Reload the page and try again."
            return _respond(api, request, 403, {"error": message})
        return _respond(api, request, exc.status_code, {"error": exc.message})

    def not_json(request: HttpRequest, exc: object) -> HttpResponse:
        # The CSRF check reads a form-encoded or multipart body as form fields (and
        # fails on a malformed one); a JSON endpoint has nothing to do with either.
        return _respond(api, request, 415, {"error": "Send the body as JSON (Content-Type: application/json)."})

    api.add_exception_handler(RawPostDataException, not_json)
    api.add_exception_handler(MultiPartParserError, not_json)

    @api.exception_handler(RequestDataTooBig)
    def too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return _respond(api, request, 413, {"error": f"The body is larger than {limit:,} bytes."})

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return _respond(api, request, 404, {"error": str(exc) or "Not found."})

    @api.exception_handler(labs.LabError)
    def lab_refused(request: HttpRequest, exc: labs.LabError) -> HttpResponse:
        return _respond(api, request, 400, {"error": str(exc)})

    @api.exception_handler(services.BranchError)
    def branch_refused(request: HttpRequest, exc: services.BranchError) -> HttpResponse:
        return _respond(api, request, 400, {"error": str(exc)})

    @api.exception_handler(services.RateLimited)
    def rate_limited(request: HttpRequest, exc: services.RateLimited) -> HttpResponse:
        response = _respond(api, request, 429, {"error": str(exc)})
        response["Retry-After"] = str(exc.retry_after)
        return response

    @api.exception_handler(Exception)
    def unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        if _is_outage(exc):
            # The broker or the cache is down. A run or lab row committed before the
            # publish failed stays "queued"; the queued-work sweep republishes it.
            logger.warning("sandbox API: a backing service is unreachable: %s", exc)
            return _respond(
                api,
                request,
                503,
                {
                    "error": "A service the sandbox needs (its work queue or cache) is unreachable right now. "
                    "Anything already saved stays queued and starts when it is back; try again in a minute."
                },
            )
        logger.exception("sandbox API: unexpected error on %s %s", request.method, request.path)
        return _respond(api, request, 500, {"error": "Something went wrong on our side; it has been logged."})


def _is_outage(exc: BaseException) -> bool:
    # kombu wraps a broker that refuses connections; redis-py raises for the cache.
    return isinstance(exc, BrokerUnavailable | RedisConnectionError | RedisTimeoutError)
