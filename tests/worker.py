"""A real Celery worker process for tests (never eager mode).

The worker runs `celery -A config worker` in a subprocess pointed at the test
database, so what a task writes is seen by the test, and what the test
commits is seen by the task. Tests that use it need `transactional_db`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from config.health import live_workers
from tests import fake_github

ROOT = Path(__file__).resolve().parent.parent


def _test_database_url() -> str:
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(s['NAME']).resolve()}"
    auth = quote(s["USER"] or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class WorkerProcess:
    def __init__(self, process: subprocess.Popen, log_path: Path) -> None:
        self.process = process
        self.log_path = log_path
        self.hostname = ""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_worker(*, queues: str = "default,inference", name: str = "tests", log_dir: Path) -> WorkerProcess:
    """A worker as the README starts it: a thread pool whose inference runs share one batch engine."""
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "WORKER_HEARTBEAT_SECONDS": "1",
           "SANDBOX_N_THREADS": "1", "SANDBOX_BATCH_SEQ_CTX": "1024"}  # fmt: skip
    # GitHub for the worker is the fake on loopback (tests/fake_github.py): down until a test
    # starts it, and retried after about a second instead of fifteen.
    env.update(GITHUB_API_URL=fake_github.URL, GITHUB_TOKEN=fake_github.TOKEN, GITHUB_COMMENT_RETRY_SECONDS="1")
    # One llama thread: the tests, a browser and the live server share the machine's
    # cores with the worker, and llama.cpp's spinning threads slow to a crawl when
    # they have to wait for a core.
    log_path = log_dir / f"{name}.log"
    node = f"{name}-{os.getpid()}@%h"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queues, "--pool", "threads",
             "--concurrency", "24", "--loglevel", "INFO", "--without-gossip", "--without-mingle", "-n", node],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    worker = WorkerProcess(process, log_path)
    deadline = time.monotonic() + 60
    hostname = node.replace("%h", socket.gethostname())
    while hostname not in live_workers():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"Celery worker did not start:\n{worker.log()[-4000:]}")
        time.sleep(0.2)
    worker.hostname = hostname
    return worker


def stop_worker(worker: WorkerProcess) -> None:
    worker.process.terminate()
    try:
        worker.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        worker.process.kill()
        worker.process.wait()


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        worker = start_worker(log_dir=tmp_path_factory.mktemp("worker"))
        yield worker
        stop_worker(worker)


def wait_for(predicate, *, timeout: float = 20.0, interval: float = 0.1, message: str = "condition"):
    """Poll `predicate` until it returns something truthy; fail with `message` after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    pytest.fail(f"Timed out after {timeout}s waiting for {message}")
