"""The "at once" limits hold under parallel requests from one learner (real threads, real transactions).

Each thread is a separate request with its own database connection, as under
gunicorn. Before the membership lock, 8 parallel POSTs all got 201 on
PostgreSQL, and on SQLite 7 of them answered 500 "database is locked".
Run on SQLite by default and on PostgreSQL in CI (DATABASE_URL).
"""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest
from django.db import connection

from inference.models import LabJob, SandboxRun

pytestmark = pytest.mark.django_db(transaction=True)

PARALLEL = 8


def _burst(clients, url: str, body: dict) -> Counter:
    barrier = threading.Barrier(len(clients))
    codes: list[int] = []
    lock = threading.Lock()

    def post(client) -> None:
        try:
            barrier.wait()
            response = client.post(url, data=json.dumps(body), content_type="application/json")
            with lock:
                codes.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return Counter(codes)


def _clients(world, count: int):
    # Logged in up front: the burst is the creates only.
    return [world.client_for(world.alice) for _ in range(count)]


def test_parallel_runs_respect_the_at_once_limit(world, smollm2, settings):
    settings.SANDBOX_CONCURRENT_RUNS = 2
    settings.SANDBOX_RUNS_PER_MINUTE = 1000

    codes = _burst(_clients(world, PARALLEL), "/api/sandbox/runs", {"model": "smollm2-135m", "prompt": "x"})

    assert codes == Counter({201: 2, 429: PARALLEL - 2}), (connection.vendor, codes)
    # A running test worker may already have started them: count rows, not "queued" ones.
    assert SandboxRun.objects.count() == 2


def test_parallel_labs_respect_the_at_once_limit(world, smollm2, settings):
    settings.SANDBOX_CONCURRENT_LABS = 2
    settings.SANDBOX_LABS_PER_MINUTE = 1000
    body = {"model": "smollm2-135m", "prompt": "x", "seeds": 1, "max_tokens": 2}

    codes = _burst(_clients(world, PARALLEL), "/api/sandbox/labs/sweep", body)

    assert codes == Counter({201: 2, 429: PARALLEL - 2}), (connection.vendor, codes)
    assert LabJob.objects.count() == 2


def test_two_learners_do_not_wait_on_each_other_s_limit(world, smollm2, settings):
    settings.SANDBOX_CONCURRENT_RUNS = 1
    settings.SANDBOX_RUNS_PER_MINUTE = 1000
    clients = [world.client_for(world.alice) for _ in range(3)] + [world.client_for(world.bob) for _ in range(3)]

    codes = _burst(clients, "/api/sandbox/runs", {"model": "smollm2-135m", "prompt": "x"})

    assert codes == Counter({201: 2, 429: 4}), (connection.vendor, codes)
    assert sorted(SandboxRun.objects.values_list("membership__user__email", flat=True)) == [
        "alice@example.com",
        "bob@example.com",
    ]
