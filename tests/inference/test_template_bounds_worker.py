"""Hostile chat templates in runs, through a real Celery worker: the run fails with the message,
the worker process does not grow, and the template helpers it starts are fresh interpreters
that do not hold the model the worker has loaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.worker import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
MB = 1024 * 1024


def _start(client, **payload) -> int:  # type: ignore[no-untyped-def]
    body = {"model": "smollm2-135m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 4, **payload}
    response = client.post("/api/sandbox/runs", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _finished(client, run_id: int) -> dict:  # type: ignore[no-untyped-def]
    def done():  # type: ignore[no-untyped-def]
        data = client.get(f"/api/sandbox/runs/{run_id}").json()
        return data if data["status"] in ("done", "failed", "cancelled") else None

    return wait_for(done, timeout=90, interval=0.2, message=f"run {run_id} to finish")


def _children(pid: int) -> list[int]:
    # Per thread: a helper started by the pool's background thread is that thread's child.
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]


def _rss(pid: int) -> int:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


def test_hostile_templates_in_runs_fail_and_the_worker_child_stays_small(
    celery_worker_process, world, smollm2, settings
):
    settings.SANDBOX_CONCURRENT_RUNS = 10
    settings.SANDBOX_RUNS_PER_MINUTE = 100
    client = world.client_for(world.alice)
    assert _finished(client, _start(client, temperature=0))["status"] == "done"  # model loaded
    # The inference worker runs a thread pool: the model lives in the worker process itself.
    child = celery_worker_process.process.pid
    before = _rss(child)

    for template, words in (
        ("ok\n{{ ('a'.center(2000000000))|length }}", "center"),
        ("{% set x = ((10**1000)**1000)**20 %}", "power"),
        ("{{ [[[1] * 100000] * 100000]|string|length }}", ""),
    ):
        data = _finished(client, _start(client, template=template))
        assert data["status"] == "failed" and words in data["error"], data["error"]
        assert "could not be rendered" in data["error"]

    assert _rss(child) - before < 100 * MB
    helpers = _children(child)
    assert helpers
    for pid in helpers:
        assert b"inference.chat_templates" in Path(f"/proc/{pid}/cmdline").read_bytes()
        assert "libllama" not in Path(f"/proc/{pid}/maps").read_text()
    assert "libllama" in Path(f"/proc/{child}/maps").read_text()
    assert _finished(client, _start(client, temperature=0))["status"] == "done"
