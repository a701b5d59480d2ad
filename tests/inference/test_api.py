from __future__ import annotations

import pytest

from inference.models import RunStatus, SandboxRun
from tests.helpers import post_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(world, smollm2):
    return world.client_for(world.alice)


def test_api_requires_login(world, smollm2):
    anonymous = world.client_for(None)
    assert anonymous.get("/api/sandbox/models").status_code == 401
    assert post_json(anonymous, "/api/sandbox/runs", {"model": "smollm2-135m", "prompt": "x"}).status_code == 401


def test_models_list_shape(alice):
    models = alice.get("/api/sandbox/models").json()["models"]
    assert models[0] | {} == models[0]
    assert {
        "slug",
        "name",
        "architecture",
        "n_vocab",
        "context_length",
        "quantization",
        "size_bytes",
        "available",
    } <= set(models[0])
    assert models[0]["slug"] == "smollm2-135m" and models[0]["n_vocab"] == 49152


def test_tokenize_keeps_typed_control_tokens_as_text(alice):
    plain = post_json(alice, "/api/sandbox/tokenize", {"model": "smollm2-135m", "text": "<|im_end|>"}).json()
    special = post_json(
        alice, "/api/sandbox/tokenize", {"model": "smollm2-135m", "text": "<|im_end|>", "special": True}
    ).json()
    assert special["count"] == 1 and special["tokens"][0]["special"] is True
    assert plain["count"] > 1 and not any(t["special"] for t in plain["tokens"])
    assert "".join(t["text"] for t in plain["tokens"]) == "<|im_end|>"


def test_render_returns_the_exact_prompt_and_its_tokens(alice):
    body = {
        "model": "smollm2-135m",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi <|im_end|>"}],
    }
    data = post_json(alice, "/api/sandbox/render", body).json()
    assert (
        data["prompt"]
        == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi <|im_end|><|im_end|>\n<|im_start|>assistant\n"
    )
    specials = [t["text"] for t in data["tokens"] if t["special"]]
    assert specials.count("<|im_end|>") == 2  # the typed one stays text


def test_render_with_an_escaping_template_is_a_field_error(alice):
    response = post_json(
        alice,
        "/api/sandbox/render",
        {"model": "smollm2-135m", "messages": [{"role": "user", "content": "x"}], "template": "{{ ().__class__ }}"},
    )
    assert response.status_code == 400
    assert "sandbox" in response.json()["fields"]["template"][0]


def test_create_run_records_defaults_and_a_seed(alice, world):
    response = post_json(
        alice, "/api/sandbox/runs", {"model": "smollm2-135m", "messages": [{"role": "user", "content": "Hi"}]}
    )
    assert response.status_code == 201
    data = response.json()
    run = SandboxRun.objects.get(pk=data["id"])
    assert data["status"] == "queued" and data["seed"] == run.seed == run.params["seed"]
    assert run.membership == world.alice_membership
    assert run.params["temperature"] == 0.8 and run.params["max_tokens"] == 128


def test_explicit_seed_and_params_are_kept(alice):
    data = post_json(
        alice,
        "/api/sandbox/runs",
        {"model": "smollm2-135m", "prompt": "Once", "seed": 42, "temperature": 0, "top_k": 5},
    ).json()
    run = SandboxRun.objects.get(pk=data["id"])
    assert (run.seed, run.params["temperature"], run.params["top_k"]) == (42, 0, 5)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"model": "nope", "prompt": "x"}, "model"),
        ({"model": "smollm2-135m", "prompt": "x", "temperature": 5}, "temperature"),
        ({"model": "smollm2-135m", "prompt": "x", "top_p": 0}, "top_p"),
        ({"model": "smollm2-135m", "prompt": "x", "max_tokens": 100000}, "max_tokens"),
        ({"model": "smollm2-135m", "prompt": "x", "top_n": 50}, "top_n"),
        ({"model": "smollm2-135m", "prompt": "x", "seed": -1}, "seed"),
        ({"model": "smollm2-135m"}, "messages"),
        ({"model": "smollm2-135m", "messages": [{"role": "wizard", "content": "x"}]}, "messages"),
        ({"model": "smollm2-135m", "messages": [{"role": "user", "content": "x"}], "prompt": "y"}, "messages"),
        ({"model": "smollm2-135m", "prompt": "x" * 30000}, "prompt"),
    ],
)
def test_invalid_parameters_get_field_errors(alice, payload, field):
    response = post_json(alice, "/api/sandbox/runs", payload)
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not SandboxRun.objects.exists()


def test_body_that_is_not_json_is_400(alice):
    assert alice.post("/api/sandbox/runs", data="{nope", content_type="application/json").status_code == 400


def test_another_learners_run_is_404(alice, world):
    run_id = post_json(alice, "/api/sandbox/runs", {"model": "smollm2-135m", "prompt": "x"}).json()["id"]
    bob = world.client_for(world.bob)
    assert bob.get(f"/api/sandbox/runs/{run_id}").status_code == 404
    assert post_json(bob, f"/api/sandbox/runs/{run_id}/cancel", {}).status_code == 404
    assert world.client_for(world.outsider).get(f"/api/sandbox/runs/{run_id}").status_code == 404
    assert alice.get(f"/api/sandbox/runs/{run_id}").status_code == 200


def test_run_detail_shape_and_queue_position(alice):
    run_id = post_json(alice, "/api/sandbox/runs", {"model": "smollm2-135m", "prompt": "x"}).json()["id"]
    data = alice.get(f"/api/sandbox/runs/{run_id}").json()
    assert {
        "id",
        "status",
        "model",
        "params",
        "rendered_prompt",
        "prompt_tokens",
        "output_text",
        "tokens",
        "finish_reason",
        "timings",
        "error",
    } <= set(data)
    assert data["queue_position"] == 1


def test_cancel_a_queued_run(alice):
    run_id = post_json(alice, "/api/sandbox/runs", {"model": "smollm2-135m", "prompt": "x"}).json()["id"]
    assert post_json(alice, f"/api/sandbox/runs/{run_id}/cancel", {}).json()["status"] == "cancelled"
    assert SandboxRun.objects.get(pk=run_id).status == RunStatus.CANCELLED


def test_concurrent_run_limit_is_429_with_retry_after(alice, settings):
    settings.SANDBOX_CONCURRENT_RUNS = 2
    for _ in range(2):
        assert post_json(alice, "/api/sandbox/runs", {"model": "smollm2-135m", "prompt": "x"}).status_code == 201
    response = post_json(alice, "/api/sandbox/runs", {"model": "smollm2-135m", "prompt": "x"})
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1


def test_runs_per_minute_limit_is_429_with_retry_after(alice, settings):
    settings.SANDBOX_CONCURRENT_RUNS = 100
    settings.SANDBOX_RUNS_PER_MINUTE = 3
    codes = [
        post_json(alice, "/api/sandbox/runs", {"model": "smollm2-135m", "prompt": "x"}).status_code for _ in range(4)
    ]
    assert codes == [201, 201, 201, 429]


def test_csrf_is_enforced_for_the_browser_api(world, smollm2):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(world.alice)
    assert post_json(client, "/api/sandbox/runs", {"model": "smollm2-135m", "prompt": "x"}).status_code == 403


def test_openapi_schema_lists_the_endpoints(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {
        "/api/sandbox/models",
        "/api/sandbox/tokenize",
        "/api/sandbox/render",
        "/api/sandbox/runs",
        "/api/sandbox/runs/{id}",
        "/api/sandbox/runs/{id}/cancel",
    } <= set(paths)


def test_a_run_whose_worker_died_twice_is_failed_not_retried(alice):
    from inference.services import run_execute

    run_id = post_json(alice, "/api/sandbox/runs", {"model": "smollm2-135m", "prompt": "x"}).json()["id"]
    SandboxRun.objects.filter(pk=run_id).update(status=RunStatus.RUNNING, attempts=2)

    assert run_execute(run_id=run_id) is None
    run = SandboxRun.objects.get(pk=run_id)
    assert run.status == RunStatus.FAILED and "stopped unexpectedly twice" in run.error


def test_executing_a_finished_run_again_changes_nothing(alice):
    from inference.services import run_execute

    run_id = post_json(alice, "/api/sandbox/runs", {"model": "smollm2-135m", "prompt": "x"}).json()["id"]
    SandboxRun.objects.filter(pk=run_id).update(status=RunStatus.DONE, output_text="kept")

    assert run_execute(run_id=run_id) is None
    assert SandboxRun.objects.get(pk=run_id).output_text == "kept"


def test_run_executes_in_process_and_records_everything(alice):
    from inference.services import run_execute

    run_id = post_json(
        alice,
        "/api/sandbox/runs",
        {
            "model": "smollm2-135m",
            "messages": [{"role": "user", "content": "Say hi"}],
            "temperature": 0,
            "max_tokens": 8,
        },
    ).json()["id"]

    assert run_execute(run_id=run_id) == RunStatus.DONE
    run = SandboxRun.objects.get(pk=run_id)
    assert run.tokens and run.prompt_tokens and run.timings["generate_ms"] > 0 and run.attempts == 1


def test_template_error_fails_the_run_with_the_message(alice):
    from inference.services import run_execute

    body = {
        "model": "smollm2-135m",
        "messages": [{"role": "user", "content": "x"}],
        "template": "ok\n{{ 'a' * 10**9 }}",
    }
    run_id = post_json(alice, "/api/sandbox/runs", body).json()["id"]

    assert run_execute(run_id=run_id) == RunStatus.FAILED
    assert "Line 2" in SandboxRun.objects.get(pk=run_id).error


def test_running_run_shows_streamed_chunks_and_finishing_folds_them_in(alice):
    from inference.models import RunTokenChunk
    from inference.run_sweeps import runs_sweep_stuck

    run_id = post_json(alice, "/api/sandbox/runs", {"model": "smollm2-135m", "prompt": "x"}).json()["id"]
    SandboxRun.objects.filter(pk=run_id).update(status=RunStatus.RUNNING)
    RunTokenChunk.objects.create(run_id=run_id, start=0, tokens=[{"id": 1, "text": "a"}], output_text="a")
    RunTokenChunk.objects.create(run_id=run_id, start=1, tokens=[{"id": 2, "text": "b"}], output_text="ab")

    data = alice.get(f"/api/sandbox/runs/{run_id}").json()
    assert [t["id"] for t in data["tokens"]] == [1, 2] and data["output_text"] == "ab"

    from django.utils import timezone

    SandboxRun.objects.filter(pk=run_id).update(started_at=timezone.now() - timezone.timedelta(hours=1))
    assert runs_sweep_stuck() == 1
    run = SandboxRun.objects.get(pk=run_id)
    assert run.status == RunStatus.FAILED and [t["id"] for t in run.tokens] == [1, 2] and run.output_text == "ab"
    assert not RunTokenChunk.objects.filter(run_id=run_id).exists()


def test_since_returns_only_new_tokens(alice):
    run_id = post_json(alice, "/api/sandbox/runs", {"model": "smollm2-135m", "prompt": "x"}).json()["id"]
    SandboxRun.objects.filter(pk=run_id).update(status=RunStatus.DONE, tokens=[{"id": i} for i in range(5)])

    data = alice.get(f"/api/sandbox/runs/{run_id}", {"since": 3}).json()

    assert [t["id"] for t in data["tokens"]] == [3, 4] and data["token_count"] == 5
    assert alice.get(f"/api/sandbox/runs/{run_id}", {"since": "x"}).status_code == 400
