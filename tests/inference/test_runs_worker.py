"""Runs end to end through the API with a real worker process and the real quantized model."""

from __future__ import annotations

import json
import os
import signal

import pytest

from inference.models import RunStatus, RunTokenChunk, SandboxRun
from tests.worker import start_worker, wait_for

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


def _queued_run(world, smollm2, *, seed: int, max_tokens: int = 512, membership=None) -> SandboxRun:
    params = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0, "repeat_penalty": 1.0,
              "presence_penalty": 0.0, "frequency_penalty": 0.0, "max_tokens": max_tokens, "top_n": 20, "seed": seed}  # fmt: skip
    return SandboxRun.objects.create(
        membership=membership or world.alice_membership, model=smollm2, request={"prompt": "List numbers: 1, 2, 3,"},
        params=params, seed=seed,
    )  # fmt: skip


def test_killing_the_worker_mid_batch_retries_every_run_clean(
    celery_worker_process, world, smollm2, settings, tmp_path
):
    """SIGKILL of the inference worker with three runs in its batch: the sweep queues them again, another
    worker runs them from the start (no IntegrityError on the streamed chunks), none stays "running"."""
    from inference.run_sweeps import runs_sweep_stuck
    from inference.tasks import execute_run

    settings.WORKER_HEARTBEAT_SECONDS = 1
    doomed = start_worker(queues="killtest", name="doomed", log_dir=tmp_path)
    members = [world.alice_membership, world.bob_membership, world.alice_membership]
    runs = [_queued_run(world, smollm2, seed=50 + i, membership=m) for i, m in enumerate(members)]
    for run in runs:
        execute_run.apply_async(kwargs={"run_id": run.pk}, queue="killtest")
    try:
        wait_for(
            lambda: all(RunTokenChunk.objects.filter(run=run).exists() for run in runs),
            timeout=90,
            message="all three runs to stream tokens in one batch",
        )
    except BaseException:
        print(doomed.log()[-5000:])
        raise
    assert {r.worker for r in SandboxRun.objects.filter(pk__in=[r.pk for r in runs])} == {
        f"{doomed.hostname}:{doomed.process.pid}"
    }
    os.kill(doomed.process.pid, signal.SIGKILL)
    doomed.process.wait()

    wait_for(lambda: runs_sweep_stuck() >= 0 and not SandboxRun.objects.filter(
        pk__in=[r.pk for r in runs], status=RunStatus.RUNNING, worker__startswith="doomed").exists(),
        timeout=30, interval=0.5, message="the sweep to see the dead worker")  # fmt: skip
    ids = [r.pk for r in runs]
    wait_for(lambda: not SandboxRun.objects.filter(pk__in=ids, status__in=["queued", "running"]).exists(),
             timeout=240, interval=0.5, message="the retried runs to finish")  # fmt: skip
    for run in SandboxRun.objects.filter(pk__in=ids):
        assert run.status == RunStatus.DONE, (run.status, run.error, celery_worker_process.log()[-3000:])
        # One clean list from the retry: not the dead worker's chunks plus the retry's.
        assert run.attempts == 2 and run.error == "" and run.finish_reason in ("stop", "length")
        assert run.tokens and len(run.tokens) <= 512 and not RunTokenChunk.objects.filter(run=run).exists()


def test_a_cohort_burst_runs_as_one_batch_and_matches_runs_alone(celery_worker_process, world, smollm2, settings):
    """Four learners' runs at once share the batch; each gives the tokens it gives alone."""
    from config.health import live_workers
    from inference.tasks import execute_run

    alone = _queued_run(world, smollm2, seed=77, max_tokens=40)
    execute_run.delay(run_id=alone.pk)
    client = world.client_for(world.alice)
    alone_data = _finished(client, alone.pk)
    memberships = [world.alice_membership, world.bob_membership, world.alice_membership, world.bob_membership]
    burst = [_queued_run(world, smollm2, seed=77 if i == 0 else 80 + i, max_tokens=40, membership=m)
             for i, m in enumerate(memberships)]  # fmt: skip
    for run in burst:
        execute_run.delay(run_id=run.pk)
    wait_for(lambda: not SandboxRun.objects.filter(pk__in=[r.pk for r in burst], status__in=["queued", "running"]).exists(),
             timeout=120, message="the burst to finish")  # fmt: skip

    same = SandboxRun.objects.get(pk=burst[0].pk)
    assert same.status == "done" and same.tokens == alone_data["tokens"]
    stats = live_workers()[celery_worker_process.hostname]["inference"]
    (model_stats,) = stats["models"].values()
    assert model_stats["max_sequences"] == 16 and model_stats["tokens_total"] > 0 and "tokens_per_second" in stats


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
