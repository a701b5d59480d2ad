"""What the benches that drive a real inference worker share (bench/sandbox.py, bench/cohort_burst.py,
bench/experiment.py): the settings of a room of learners, Django in this process with SmolLM2 and a
cohort, signed-in clients, the README's inference worker, clicks at the same moment, and cleaning up.

Django is imported inside the functions: a bench sets its environment (database, broker) first.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import backends, pages

ROOT = Path(__file__).resolve().parent.parent

# A room of learners must not hit the per-learner limits a bench is not measuring.
ROOM_SETTINGS = {
    "DEBUG": "true",
    "ALLOWED_HOSTS": "testserver",
    "SANDBOX_RUNS_PER_MINUTE": "1000",
    "SANDBOX_CONCURRENT_RUNS": "100",
}


def room_env(tmp: Path, threads: int | None = None) -> dict[str, str]:
    """The bench's production settings with the room's limits; `threads`: the worker's SANDBOX_N_THREADS."""
    env = pages.bench_env(tmp)
    env.update(ROOM_SETTINGS)
    if threads:
        env["SANDBOX_N_THREADS"] = str(threads)
    return env


def setup_django(model_slug: str = "smollm2-135m") -> tuple[Any, Any]:
    """Django in this process on the bench database, migrated; returns the model (SmolLM2 Q4_1, or
    `smollm2-135m-q8`, its Q8_0 copy) and a new cohort "bench"."""
    import django

    import config  # noqa: F401  (load settings through config first, as gunicorn does)

    django.setup()
    from django.core.management import call_command

    from cohort.models import Cohort
    from inference import provision

    call_command("migrate", interactive=False, verbosity=0)
    provisioners = {
        provision.SMOLLM2_SLUG: provision.provision_smollm2,
        provision.SMOLLM2_BATCH_SLUG: provision.provision_smollm2_batch,
    }
    model = provisioners[model_slug]()
    cohort = Cohort.objects.create(
        name="Bench", slug="bench", starts_on="2026-03-02", ends_on="2026-06-26", practice_repository="a/b"
    )
    return model, cohort


def signed_in(cohort: Any, email: str, role: str | None = None) -> Any:
    """A test client signed in as a new member of `cohort` (a learner unless `role` says otherwise)."""
    from django.test import Client

    from cohort.models import Membership, Role, User

    user = User.objects.create_user(email=email)
    Membership.objects.create(user=user, cohort=cohort, role=role or Role.LEARNER)
    client = Client()
    client.force_login(user)
    return client


@dataclass
class Room:
    """What one bench run started: its folder and settings, the database and broker, the worker."""

    tmp: Path
    env: dict[str, str]
    store: backends.Backends
    model: Any
    cohort: Any
    worker: subprocess.Popen[bytes] | None = None

    def start_worker(self) -> subprocess.Popen[bytes]:
        """The README's inference worker (continuous batching in one process), logging to tmp/worker.log."""
        log = (self.tmp / "worker.log").open("wb")
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "inference", "--pool", "threads",
             "--concurrency", "32", "--loglevel", "WARNING"],
            env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        return self.worker

    def worker_log(self) -> str:
        """The end of the worker's log, for an error message."""
        return (self.tmp / "worker.log").read_text()[-3000:]


@contextmanager
def room(
    args: argparse.Namespace, name: str, threads: int | None = None, model_slug: str = "smollm2-135m"
) -> Iterator[Room]:
    """A temporary folder, the database and broker `args` ask for (bench/backends.py), Django set up with
    SmolLM2 and a cohort; everything it started is stopped and removed at the end, whatever happened."""
    tmp = Path(tempfile.mkdtemp(prefix=f"firstbreak-bench-{name}-"))
    store = None
    rig = None
    try:
        env = room_env(tmp, threads)
        store = backends.Backends(args, env).start()
        model, cohort = setup_django(model_slug)
        rig = Room(tmp=tmp, env=env, store=store, model=model, cohort=cohort)
        yield rig
    finally:
        if rig is not None and rig.worker is not None:
            pages.stop(rig.worker)
        if store is not None:
            store.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def all_at_once(calls: Iterable[Callable[[], None]]) -> float:
    """Run each call in its own thread, all released at the same moment; returns when the last one has
    returned (raising what a call raised), with the moment of the release (time.perf_counter)."""
    from django.db import connection

    calls = list(calls)
    barrier = threading.Barrier(len(calls) + 1)

    def one(call: Callable[[], None]) -> None:
        barrier.wait()
        try:
            call()
        finally:
            connection.close()  # each thread has its own database connection

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(one, call) for call in calls]
        barrier.wait()
        released = time.perf_counter()
        for future in futures:
            future.result()
    return released


def retry_locked(call: Callable[[], Any], attempts: int = 20) -> Any:
    """`call()`, again after "database is locked": SQLite without IMMEDIATE transactions under parallel writes."""
    from django.db import OperationalError

    for attempt in range(attempts):
        try:
            return call()
        except OperationalError:
            time.sleep(0.05 * (attempt + 1))
    raise RuntimeError(f"the database was still locked after {attempts} attempts")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def machine_load() -> str:
    return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])
