"""Runs end to end through the API with a real worker process and the real quantized model."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from inference.models import RunStatus, SandboxRun
from tests.worker import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _start(client, **payload) -> int:
    body = {"model": "smollm2-135m", **payload}
    response = client.post("/api/sandbox/runs", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _finished(client, run_id: int, timeout: float = 90) -> dict:
    def done():
        data = client.get(f"/api/sandbox/runs/{run_id}").json()
        return data if data["status"] in ("done", "failed", "cancelled") else None

    return wait_for(done, timeout=timeout, interval=0.2, message=f"run {run_id} to finish")


def _worker_children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children]


def test_run_through_the_api_with_a_real_worker(celery_worker_process, world, smollm2, settings):
    settings.SANDBOX_CONCURRENT_RUNS = 10
    settings.SANDBOX_RUNS_PER_MINUTE = 100
    client = world.client_for(world.alice)
    messages = [{"role": "user", "content": "What is the capital of France?"}]

    first = _finished(client, _start(client, messages=messages, temperature=0, max_tokens=24, top_n=20))
    second = _finished(client, _start(client, messages=messages, temperature=0, max_tokens=24, top_n=20))

    assert first["status"] == "done", first["error"]
    assert first["rendered_prompt"].endswith("<|im_start|>assistant\n")
    assert first["prompt_tokens"] and first["tokens"]
    token = first["tokens"][0]
    assert len(token["top_model"]) == 20 and len(token["top_sampled"]) == 1 and token["p_sampled"] == 1.0
    assert first["output_text"] and first["output_text"] == second["output_text"]
    assert first["timings"]["tokens_per_second"] > 0
    assert second["timings"]["load_ms"] == 0.0 and second["timings"]["model_loads_in_worker"] == 1


def test_same_seed_reproduces_different_seed_differs(celery_worker_process, world, smollm2, settings):
    settings.SANDBOX_CONCURRENT_RUNS = 10
    settings.SANDBOX_RUNS_PER_MINUTE = 100
    client = world.client_for(world.alice)
    params = {
        "prompt": "Once upon a time",
        "temperature": 1.5,
        "top_k": 0,
        "top_p": 1.0,
        "min_p": 0.0,
        "max_tokens": 24,
    }

    a = _finished(client, _start(client, seed=11, **params))
    b = _finished(client, _start(client, seed=11, **params))
    c = _finished(client, _start(client, seed=12, **params))

    assert a["output_text"] == b["output_text"] != c["output_text"]


def test_cancel_a_running_run(celery_worker_process, world, smollm2, settings):
    client = world.client_for(world.alice)
    run_id = _start(client, prompt="Count: 1, 2, 3,", temperature=1.0, top_k=0, top_p=1.0, max_tokens=512)
    wait_for(
        lambda: len(client.get(f"/api/sandbox/runs/{run_id}").json()["tokens"]) > 3,
        timeout=60,
        message="tokens to stream",
    )

    client.post(f"/api/sandbox/runs/{run_id}/cancel")

    data = _finished(client, run_id)
    assert data["status"] == "cancelled" and 3 < len(data["tokens"]) < 512


def test_killed_worker_child_never_leaves_a_run_running(celery_worker_process, world, smollm2, settings):
    client = world.client_for(world.alice)
    run_id = _start(
        client, prompt="List numbers: 1, 2, 3,", temperature=1.0, top_k=0, top_p=1.0, max_tokens=512, seed=5
    )
    wait_for(
        lambda: len(client.get(f"/api/sandbox/runs/{run_id}").json()["tokens"]) > 3,
        timeout=60,
        message="the run to be generating",
    )

    for child in _worker_children(celery_worker_process.process.pid):
        os.kill(child, signal.SIGKILL)

    try:
        data = _finished(client, run_id, timeout=120)
    except BaseException:
        print(celery_worker_process.log()[-5000:])
        raise
    print(celery_worker_process.log()[-3000:])
    run = SandboxRun.objects.get(pk=run_id)
    assert data["status"] in (RunStatus.DONE, RunStatus.FAILED)
    assert run.attempts == 2 or data["status"] == RunStatus.FAILED


def test_soft_time_limit_ends_the_run_as_timeout_and_the_worker_stays_healthy(
    celery_worker_process, world, smollm2, settings
):
    from inference.tasks import execute_run

    settings.SANDBOX_CONCURRENT_RUNS = 10
    settings.SANDBOX_RUNS_PER_MINUTE = 100
    client = world.client_for(world.alice)
    params = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0, "repeat_penalty": 1.0, "presence_penalty": 0.0,
              "frequency_penalty": 0.0, "max_tokens": 512, "top_n": 20, "seed": 4}  # fmt: skip
    # The row without run_create's own task, then one task with a 1 s soft limit.
    run = SandboxRun.objects.create(
        membership=world.alice_membership, model=smollm2, request={"prompt": "Count: 1, 2,"}, params=params, seed=4
    )
    execute_run.apply_async(kwargs={"run_id": run.pk}, soft_time_limit=1, time_limit=30)

    data = _finished(client, run.pk)

    assert data["status"] == "failed" and data["finish_reason"] == "timeout" and "longer than" in data["error"]
    assert 0 < len(data["tokens"]) < 512
    after = _finished(client, _start(client, prompt="Hello", temperature=0, max_tokens=4))
    assert after["status"] == "done"


def test_runaway_template_fails_the_run_and_the_worker_carries_on(celery_worker_process, world, smollm2, settings):
    settings.SANDBOX_CONCURRENT_RUNS = 10
    settings.SANDBOX_RUNS_PER_MINUTE = 100
    client = world.client_for(world.alice)
    template = "{% set x = range(100000)|list %}\n{% for i in x %}{% for j in x %}{% endfor %}{% endfor %}"

    bad = _finished(
        client, _start(client, messages=[{"role": "user", "content": "x"}], template=template, max_tokens=4)
    )
    good = _finished(client, _start(client, messages=[{"role": "user", "content": "x"}], temperature=0, max_tokens=4))

    assert bad["status"] == "failed" and "Line 2" in bad["error"] and "longer than" in bad["error"]
    assert good["status"] == "done"


def test_finished_runs_complete_a_sandbox_exercise_through_the_worker(celery_worker_process, world, smollm2, settings):
    from exercises.models import Exercise, ExerciseCompletion, ExerciseKind, SandboxRule

    settings.SANDBOX_CONCURRENT_RUNS = 10
    settings.SANDBOX_RUNS_PER_MINUTE = 100
    exercise = Exercise.objects.create(
        cohort=world.cohort,
        step=world.steps[1],
        title="Greedy",
        slug="greedy",
        kind=ExerciseKind.SANDBOX,
        sandbox_rule=SandboxRule.GREEDY_REPEATS,
    )
    client = world.client_for(world.alice)

    for _ in range(2):
        _finished(client, _start(client, prompt="The sky is", temperature=0, max_tokens=6))

    completion = wait_for(
        lambda: ExerciseCompletion.objects.filter(membership=world.alice_membership, exercise=exercise).first(),
        message="the exercise check",
    )
    assert "run" in completion.evidence
