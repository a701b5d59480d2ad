"""The beat sweep and retries: nothing stays queued or running for ever, a retry starts clean,
and what broke inside never reaches the learner verbatim (issue 10, items 4-6)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from inference import run_sweeps, services
from inference.models import LabJob, LabKind, RunStatus, RunTokenChunk, SandboxRun

PARAMS = {"temperature": 0, "top_k": 20, "top_p": 0.8, "min_p": 0.0, "repeat_penalty": 1.0, "presence_penalty": 0.0,
          "frequency_penalty": 0.0, "max_tokens": 6, "top_n": 5, "seed": 3}  # fmt: skip


@pytest.fixture
def published(monkeypatch):
    sent: list[tuple[str, dict]] = []

    def publish(task, *, what, **kwargs):
        sent.append((task.name, kwargs))
        return True

    # The sweep publishes at once; a requeue publishes after its commit (through the same function).
    monkeypatch.setattr("inference.run_sweeps.publish_now_or_leave_to_sweep", publish)
    monkeypatch.setattr("config.publish.publish_now_or_leave_to_sweep", publish)
    return sent


def _run(world, smollm2, **fields) -> SandboxRun:
    return SandboxRun.objects.create(
        membership=world.alice_membership, model=smollm2, request={"prompt": "The sky is"}, params=PARAMS, seed=3,
        **fields,
    )  # fmt: skip


def _lab(world, smollm2, **fields) -> LabJob:
    return LabJob.objects.create(
        membership=world.alice_membership, model=smollm2, kind=LabKind.SWEEP, input={}, **fields
    )


def _ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


def test_queued_work_left_by_a_broker_outage_is_published_again_once(world, smollm2, settings, published):
    settings.SANDBOX_REPUBLISH_AFTER = 60
    lost = _run(world, smollm2)
    fresh = _run(world, smollm2)
    lab = _lab(world, smollm2)
    SandboxRun.objects.filter(pk=lost.pk).update(created_at=_ago(120))
    LabJob.objects.filter(pk=lab.pk).update(created_at=_ago(120))

    assert run_sweeps.runs_sweep_stuck() == 2
    assert run_sweeps.runs_sweep_stuck() == 0  # safe to run twice: published_at moved on

    assert sorted(published) == sorted(
        [("inference.execute_run", {"run_id": lost.pk}), ("inference.execute_lab", {"job_id": lab.pk})]
    )
    assert SandboxRun.objects.get(pk=fresh.pk).published_at is None


def test_work_past_the_hard_limit_ends_with_the_time_limit_message(world, smollm2, settings, published):
    settings.SANDBOX_HARD_TIME_LIMIT = 150
    run = _run(world, smollm2, status=RunStatus.RUNNING, started_at=_ago(153), attempts=1)
    RunTokenChunk.objects.create(run=run, start=0, tokens=[{"id": 1, "text": "a"}], output_text="a")
    within = _run(world, smollm2, status=RunStatus.RUNNING, started_at=_ago(100), attempts=1)
    lab = _lab(world, smollm2, status=RunStatus.RUNNING, started_at=_ago(153), attempts=1)

    assert run_sweeps.runs_sweep_stuck() == 2

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and run.finish_reason == "timeout"
    assert run.error == "The run took longer than 150 s and was stopped." and run.output_text == "a"
    lab.refresh_from_db()
    assert lab.status == RunStatus.FAILED and "took longer than 150 s" in lab.error and lab.finished_at
    assert SandboxRun.objects.get(pk=within.pk).status == RunStatus.RUNNING


def test_work_of_a_dead_worker_is_queued_again_then_failed(world, smollm2, settings, published, monkeypatch):
    monkeypatch.setattr("config.health.live_workers", lambda: {"alive@host": {"at": 0, "pid": 7}})
    first = _run(world, smollm2, status=RunStatus.RUNNING, started_at=_ago(60), attempts=1, worker="gone@host:5")
    RunTokenChunk.objects.create(run=first, start=0, tokens=[{"id": 1, "text": "a"}], output_text="a")
    restarted = _run(world, smollm2, status=RunStatus.RUNNING, started_at=_ago(60), attempts=1, worker="alive@host:6")
    second = _run(world, smollm2, status=RunStatus.RUNNING, started_at=_ago(60), attempts=2, worker="gone@host:5")
    living = _run(world, smollm2, status=RunStatus.RUNNING, started_at=_ago(60), attempts=1, worker="alive@host:7")
    lab = _lab(world, smollm2, status=RunStatus.RUNNING, started_at=_ago(60), attempts=1, worker="gone@host:5")

    assert run_sweeps.runs_sweep_stuck() == 4

    for queued in (first, restarted, lab):
        queued.refresh_from_db()
        assert queued.status == RunStatus.QUEUED and queued.worker == ""
    assert not RunTokenChunk.objects.filter(run=first).exists()
    second.refresh_from_db()
    assert second.status == RunStatus.FAILED and "stopped unexpectedly twice" in second.error
    assert SandboxRun.objects.get(pk=living.pk).status == RunStatus.RUNNING


def test_a_retry_starts_clean_after_a_worker_died_mid_run(world, smollm2):
    """Issue 10 item 4: the dead worker's streamed chunks made the retry fail with IntegrityError."""
    run = _run(world, smollm2, status=RunStatus.RUNNING, attempts=1, started_at=_ago(30), worker="gone@host:1")
    RunTokenChunk.objects.create(run=run, start=0, tokens=[{"id": 1, "text": "a"}] * 3, output_text="aaa")
    RunTokenChunk.objects.create(run=run, start=3, tokens=[{"id": 1, "text": "a"}], output_text="aaaa")

    assert services.run_execute(run_id=run.pk, worker="new@host:2") == RunStatus.DONE

    run.refresh_from_db()
    assert run.attempts == 2 and run.error == "" and len(run.tokens) == 6 and "aaaa" not in run.output_text
    assert run.worker == "new@host:2" and not RunTokenChunk.objects.filter(run=run).exists()


def test_an_internal_error_reaches_the_learner_as_a_plain_message(world, smollm2, monkeypatch):
    def broken(path):
        raise RuntimeError("segfault in /srv/secret/path.gguf")

    monkeypatch.setattr("inference.batching.engine_for", broken)
    run = _run(world, smollm2)

    assert services.run_execute(run_id=run.pk) == RunStatus.FAILED

    run.refresh_from_db()
    assert "secret" not in run.error and "RuntimeError" not in run.error
    assert f"reference {run.pk}" in run.error


def test_the_task_thread_enforces_the_soft_limit_in_process(world, smollm2):
    params = {**PARAMS, "temperature": 1.0, "top_k": 0, "top_p": 1.0, "max_tokens": 500}
    run = SandboxRun.objects.create(
        membership=world.alice_membership, model=smollm2, request={"prompt": "Count: 1, 2,"}, params=params, seed=4
    )

    assert services.run_execute(run_id=run.pk, time_limits=(30, 0.5)) == RunStatus.FAILED

    run.refresh_from_db()
    assert run.finish_reason == "timeout" and run.error == "The run took longer than 0.5 s and was stopped."
    assert 0 < len(run.tokens) < 500
