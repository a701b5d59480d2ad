"""Inputs that once answered 500 (issues 10 and 16), and what the API layer promises about callers and limits.

Each answer is 4xx with the platform's error shape (`{"error", "fields"}`), and
nothing is stored for a refused request.
"""

from __future__ import annotations

import json

import pytest
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client

from cohort.models import User
from inference.models import LabJob, RunStatus, SandboxRun
from tests.factories import UserFactory
from tests.helpers import make_finished_run, post_json

pytestmark = pytest.mark.django_db

RUN = {"model": "smollm2-135m", "prompt": "x"}
CHAT = {"model": "smollm2-135m", "messages": [{"role": "user", "content": "Hi"}]}
SWEEP = {"model": "smollm2-135m", "prompt": "x", "seeds": 1, "max_tokens": 2}


@pytest.fixture
def alice(world, smollm2):
    return world.client_for(world.alice)


@pytest.fixture
def finished_run(world, smollm2):
    return make_finished_run(world.alice_membership, smollm2)


def _body_endpoints(run_id: int) -> list[str]:
    return [
        "/api/sandbox/tokenize",
        "/api/sandbox/render",
        "/api/sandbox/runs",
        f"/api/sandbox/runs/{run_id}/branch",
        "/api/sandbox/labs/pipeline",
        "/api/sandbox/labs/sweep",
        "/api/sandbox/labs/speculative",
        "/api/sandbox/labs/quantization",
    ]


def _every_endpoint(run_id: int, job_id: int) -> list[tuple[str, str]]:
    return [
        ("get", "/api/sandbox/models"),
        ("get", "/api/sandbox/models/smollm2-135m/inspect"),
        ("get", "/api/sandbox/runs"),
        ("get", f"/api/sandbox/runs/{run_id}"),
        ("get", f"/api/sandbox/runs/{run_id}/tree"),
        ("get", f"/api/sandbox/labs/{job_id}"),
        ("post", f"/api/sandbox/runs/{run_id}/cancel"),
        ("post", f"/api/sandbox/labs/{job_id}/share"),
        *[("post", url) for url in _body_endpoints(run_id)],
    ]


def _assert_field_error(response, field: str) -> str:
    assert response.status_code == 400, response.content
    data = response.json()
    assert data["error"].startswith("Invalid parameters.") and field in data["fields"], data
    return " ".join(data["fields"][field])


# --- The inputs that answered 500 ---------------------------------------------------------


def test_lone_surrogate_in_tokenize_text_is_a_field_error(alice):
    # json.dumps writes the lone surrogate as the escape "\ud800", as a client would.
    response = post_json(alice, "/api/sandbox/tokenize", {"model": "smollm2-135m", "text": "a\ud800b"})
    assert "surrogate" in _assert_field_error(response, "text")


@pytest.mark.parametrize("url", ["/api/sandbox/runs", "/api/sandbox/render"])
def test_lone_surrogate_in_message_content_is_a_field_error(alice, url):
    body = {"model": "smollm2-135m", "messages": [{"role": "user", "content": "\udfff"}]}
    assert "surrogate" in _assert_field_error(post_json(alice, url, body), "messages")
    assert not SandboxRun.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "smollm2-135m", "messages": [{"role": "user", "content": "a\x00b"}]}, "messages"),
        ({"model": "smollm2-135m", "prompt": "a\x00b"}, "prompt"),
        ({**CHAT, "template": "{{ messages }}\x00"}, "template"),
    ],
)
def test_nul_characters_are_a_field_error_before_any_database_sees_them(alice, body, field):
    # PostgreSQL refuses NUL in text and jsonb; the API refuses it first on every database.
    assert "NUL" in _assert_field_error(post_json(alice, "/api/sandbox/runs", body), field)
    assert not SandboxRun.objects.exists()


def test_deeply_nested_json_is_400_on_every_endpoint_with_a_body(alice, finished_run):
    nested = "[" * 100_000 + "]" * 100_000
    for url in _body_endpoints(finished_run.pk):
        response = post_json(alice, url, nested)
        assert response.status_code == 400, (url, response.content)
        assert response.json() == {"error": "The body is nested too deeply."}


def test_nesting_that_parses_is_refused_by_the_schema(alice):
    value: object = "x"
    for _ in range(500):
        value = [value]
    response = post_json(alice, "/api/sandbox/runs", {**RUN, "prompt": value})
    _assert_field_error(response, "prompt")


def test_since_must_be_ascii_digits(alice, finished_run):
    for since in ("²", "-1", "x", "1.5", "9" * 40):
        response = alice.get(f"/api/sandbox/runs/{finished_run.pk}", {"since": since})
        _assert_field_error(response, "since")


@pytest.mark.parametrize("temperature", ["1" + "0" * 400, "1e400", "NaN", "Infinity"])
def test_overflowing_or_non_finite_sweep_temperature_is_a_field_error(alice, temperature):
    raw = '{"model": "smollm2-135m", "prompt": "x", "temperatures": [%s]}' % temperature  # noqa: UP031
    _assert_field_error(post_json(alice, "/api/sandbox/labs/sweep", raw), "temperatures")
    assert not LabJob.objects.exists()


@pytest.mark.parametrize("url", ["/api/sandbox/runs", "/api/sandbox/render"])
def test_a_list_where_a_string_belongs_is_refused_not_treated_as_empty(alice, url):
    assert "text" in _assert_field_error(post_json(alice, url, {**CHAT, "template": ["x"]}), "template")
    _assert_field_error(post_json(alice, url, {**CHAT, "model": ["smollm2-135m"]}), "model")


def test_max_tokens_error_states_the_limit(alice, settings):
    message = _assert_field_error(post_json(alice, "/api/sandbox/runs", {**RUN, "max_tokens": 100_000}), "max_tokens")
    assert message == f"Ensure this value is less than or equal to {settings.SANDBOX_MAX_TOKENS}."


def test_tokenizing_an_empty_text_gives_no_tokens(alice):
    response = post_json(alice, "/api/sandbox/tokenize", {"model": "smollm2-135m", "text": ""})
    assert response.status_code == 200 and response.json() == {"tokens": [], "count": 0}


# --- Shapes the schema enforces ---------------------------------------------------------------


def test_unknown_fields_are_refused_by_name(alice):
    message = _assert_field_error(post_json(alice, "/api/sandbox/runs", {**RUN, "temprature": 0.5}), "temprature")
    assert "Unknown field" in message
    assert not SandboxRun.objects.exists()


@pytest.mark.parametrize(
    ("value", "field"), [("5", "max_tokens"), (1.5, "max_tokens"), (True, "seed"), (1, "parse_special")]
)
def test_types_are_strict(alice, value, field):
    _assert_field_error(post_json(alice, "/api/sandbox/runs", {**RUN, field: value}), field)


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "null", "{nope"])
def test_a_body_that_is_not_a_json_object_is_400(alice, body):
    response = post_json(alice, "/api/sandbox/runs", body)
    assert response.status_code == 400 and response.json()["error"].startswith("The body")


def test_a_form_encoded_body_is_415_json(world, smollm2):
    client = _csrf_client(world.alice)
    response = client.post("/api/sandbox/runs", data={"model": "smollm2-135m"}, HTTP_X_CSRFTOKEN=client.token)
    assert response.status_code == 415 and "JSON" in response.json()["error"]


def test_the_error_of_a_nested_field_says_where(alice):
    body = {"model": "smollm2-135m", "messages": [{"role": "user", "content": "x"}, {"role": "wizard", "content": "y"}]}
    message = _assert_field_error(post_json(alice, "/api/sandbox/runs", body), "messages")
    assert message.startswith("Item 2, role: Choose one of")


# --- Callers: sessions, CSRF, membership ---------------------------------------------------------


def _csrf_client(user: User) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.token = _get_new_csrf_string()  # type: ignore[attr-defined]
    client.cookies["csrftoken"] = client.token  # type: ignore[attr-defined]
    return client


def test_a_csrf_failure_answers_json_403(world, smollm2):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.alice)
    response = post_json(client, "/api/sandbox/runs", RUN)
    assert response.status_code == 403 and response["Content-Type"].startswith("application/json")
    assert "CSRF" in response.json()["error"]
    assert not SandboxRun.objects.exists()


def test_with_the_csrf_token_a_write_goes_through(world, smollm2):
    client = _csrf_client(world.alice)
    response = client.post(
        "/api/sandbox/runs", data=json.dumps(RUN), content_type="application/json", HTTP_X_CSRFTOKEN=client.token
    )
    assert response.status_code == 201


def test_every_endpoint_needs_a_session_then_a_cohort(world, finished_run):
    job = LabJob.objects.create(membership=world.alice_membership, model=finished_run.model, kind="sweep", input={})
    anonymous, stranger = world.client_for(None), world.client_for(UserFactory(email="nobody@example.com"))
    for method, url in _every_endpoint(finished_run.pk, job.pk):
        response = anonymous.generic(method.upper(), url, "{}", content_type="application/json")
        assert (response.status_code, response.json()) == (401, {"error": "Sign in first."}), url
        response = stranger.generic(method.upper(), url, "{}", content_type="application/json")
        assert (response.status_code, response.json()) == (403, {"error": "Join a cohort to use the sandbox."}), url


def test_a_lead_reads_their_own_runs_only(world, finished_run):
    lead = world.client_for(world.lead)
    assert lead.get(f"/api/sandbox/runs/{finished_run.pk}").status_code == 404
    assert lead.get("/api/sandbox/models").status_code == 200


# --- Limits ---------------------------------------------------------------------------------------


def test_labs_at_once_limit_is_429_with_retry_after(alice, settings):
    settings.SANDBOX_CONCURRENT_LABS = 2
    codes = [post_json(alice, "/api/sandbox/labs/sweep", SWEEP).status_code for _ in range(2)]
    response = post_json(alice, "/api/sandbox/labs/sweep", SWEEP)
    assert codes == [201, 201] and response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert "labs waiting or running" in response.json()["error"]
    assert LabJob.objects.count() == 2


def test_labs_per_minute_limit_is_429_with_retry_after(alice, settings):
    settings.SANDBOX_CONCURRENT_LABS = 100
    settings.SANDBOX_LABS_PER_MINUTE = 3
    codes = [post_json(alice, "/api/sandbox/labs/sweep", SWEEP).status_code for _ in range(4)]
    assert codes == [201, 201, 201, 429]


def test_twelve_sweeps_in_a_row_are_not_all_accepted(alice):
    codes = [post_json(alice, "/api/sandbox/labs/sweep", SWEEP).status_code for _ in range(12)]
    assert codes.count(201) == 2 and set(codes[2:]) == {429}


def test_preview_budget_covers_render_and_tokenize(alice, settings):
    settings.SANDBOX_PREVIEWS_PER_MINUTE = 3
    codes = [
        post_json(alice, "/api/sandbox/tokenize", {"model": "smollm2-135m", "text": "x"}).status_code for _ in range(2)
    ]
    codes.append(post_json(alice, "/api/sandbox/render", CHAT).status_code)
    response = post_json(alice, "/api/sandbox/render", CHAT)
    assert codes == [200, 200, 200] and response.status_code == 429 and int(response["Retry-After"]) >= 1


def test_preview_budget_is_per_learner(world, smollm2, settings):
    settings.SANDBOX_PREVIEWS_PER_MINUTE = 1
    alice, bob = world.client_for(world.alice), world.client_for(world.bob)
    body = {"model": "smollm2-135m", "text": "x"}
    assert [post_json(alice, "/api/sandbox/tokenize", body).status_code for _ in range(2)] == [200, 429]
    assert post_json(bob, "/api/sandbox/tokenize", body).status_code == 200


# --- Outages --------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_broker_down_answers_json_503_and_the_run_stays_queued(world, smollm2):
    from config.celery import app

    client = world.client_for(world.alice)
    original = app.conf.broker_url, app._pool, app.amqp._producer_pool
    # Nothing listens on port 1; the pools are dropped so the publish really connects there.
    app.conf.broker_url, app._pool, app.amqp._producer_pool = "redis://127.0.0.1:1/0", None, None
    try:
        response = post_json(client, "/api/sandbox/runs", RUN)
    finally:
        app.conf.broker_url, app._pool, app.amqp._producer_pool = original

    assert response.status_code == 503 and "is unreachable right now" in response.json()["error"]
    # The row was committed before the publish: it waits, queued, for the sweep that republishes it.
    assert SandboxRun.objects.get().status == RunStatus.QUEUED


def test_cache_down_answers_json_503_and_nothing_is_stored(alice, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    response = post_json(alice, "/api/sandbox/runs", RUN)
    assert response.status_code == 503 and response.json()["error"]
    assert not SandboxRun.objects.exists()


# --- The document and its docs ------------------------------------------------------------------


def test_the_generated_document_validates_as_openapi_3_1(client):
    from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

    document = client.get("/api/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    errors = [str(error) for error in OPENAPI_31_VALIDATOR.iter_errors(document)]
    assert errors == []
    runs = document["paths"]["/api/sandbox/runs"]["post"]
    assert {"201", "400", "401", "403", "429", "503"} <= set(runs["responses"])


def test_interactive_docs_are_for_signed_in_users_and_load_no_cdn(world, client):
    assert client.get("/api/docs").status_code == 302
    page = world.client_for(world.alice).get("/api/docs")
    html = page.content.decode()
    assert page.status_code == 200 and "/static/ninja/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower() and "https://" not in html


def test_range_messages_read_like_the_form_inputs(alice):
    response = post_json(alice, "/api/sandbox/runs", {**RUN, "temperature": 5, "top_p": 0})
    fields = response.json()["fields"]
    assert fields["temperature"] == ["Ensure this value is less than or equal to 2."]
    assert fields["top_p"] == ["Ensure this value is greater than or equal to 0.01."]


def test_a_body_over_the_size_limit_is_413_json(alice, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post_json(alice, "/api/sandbox/runs", {**RUN, "prompt": "x" * 2000})
    assert response.status_code == 413 and "1,000 bytes" in response.json()["error"]
