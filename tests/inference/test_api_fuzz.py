"""Schemathesis fuzzes every operation of the generated OpenAPI document as a signed-in learner.

Requests go through Django's real WSGI handler and middleware (sessions, CSRF,
auth), with the learner's session cookie and CSRF token, and data generated
from the schema: valid bodies (examples first) and, in negative mode, bodies
that break it. Every answer must be a documented status (never a 500), with
the documented content type, headers and body shape; data the schema refuses
must be refused. A bounded number of examples per operation keeps the module
to about a minute on a 2-core machine.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.helpers import make_finished_run

pytestmark = pytest.mark.django_db

EXAMPLES_PER_OPERATION = 20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    # Django closes the database connection around each request; the test's
    # transaction lives on that connection (the test Client does the same).
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def signed_in(world, smollm2):
    """Alice's session cookie and CSRF token, plus a finished run and a lab so ids in paths can hit."""
    client = Client()
    client.force_login(world.alice)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    token = _get_new_csrf_string()
    make_finished_run(world.alice_membership, smollm2)
    return {
        "headers": {"X-CSRFToken": token},
        "cookies": {settings.SESSION_COOKIE_NAME: session, settings.CSRF_COOKIE_NAME: token},
    }


# The document as the app serves it, through the same WSGI handler the cases call.
# The session cookie is the caller's credential, not input: mutating it would only test
# that a missing session is refused (tests/inference/test_api_inputs.py does that).
schema = schemathesis.openapi.from_wsgi(
    "/api/openapi.json",
    WSGIHandler(),
    config=schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}}),
)


@schema.parametrize()
@hypothesis_settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case, signed_in):
    case.call_and_validate(checks=CHECKS, **signed_in)
