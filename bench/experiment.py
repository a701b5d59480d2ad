"""A room of learners runs the lead's live experiment: time until the results show every run.

    .venv/bin/python bench/experiment.py [--learners 16] [--tokens 32] [--threads 2] [--postgres URL --redis URL]

A lead starts an experiment (one chat prompt, arms at temperatures 0, 0.7 and
1.5) and N learners (16) click "Run the lead's experiment" at the same moment
(POST /api/sandbox/experiments/{id}/runs from N threads) against ONE inference
worker started as the README says (continuous batching). The lead's results
(GET /api/sandbox/experiments/{id}, what the projected page polls) are read
every 0.1 s until they count all N runs. Printed beside it, measured in the
same bench run on the same worker: one learner's run alone, and the same N
runs one after another (each started when the previous one is counted), with
the ratios. SQLite and the embedded broker by default (the broker polls once a
second: absolute times are only meaningful with --redis).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import backends, pages  # noqa: E402
from bench.cohort_burst import machine_load  # noqa: E402

MESSAGES = [{"role": "user", "content": "Name one colour and say why you like it."}]
POLL_SECONDS = 0.1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=32, help="max_tokens of the experiment")
    parser.add_argument("--threads", type=int, help="SANDBOX_N_THREADS of the worker (default: the setting's)")
    backends.add_arguments(parser)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = Path(tempfile.mkdtemp(prefix="firstbreak-bench-experiment-"))
    worker = None
    store = None
    try:
        env = pages.bench_env(tmp)
        env.update(DEBUG="true", ALLOWED_HOSTS="testserver", SANDBOX_RUNS_PER_MINUTE="1000",
                   SANDBOX_CONCURRENT_RUNS="100")  # fmt: skip
        if args.threads:
            env["SANDBOX_N_THREADS"] = str(args.threads)
        store = backends.Backends(args, env).start()

        import django

        import config  # noqa: F401  (load settings through config first, as gunicorn does)

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.db import OperationalError, connection
        from django.test import Client

        from cohort.models import Cohort, Membership, Role, User
        from inference.provision import provision_smollm2

        call_command("migrate", interactive=False, verbosity=0)
        model = provision_smollm2()
        cohort = Cohort.objects.create(
            name="Bench", slug="bench", starts_on="2026-03-02", ends_on="2026-06-26", practice_repository="a/b"
        )

        def client_for(email: str, role: str = Role.LEARNER) -> Client:
            user = User.objects.create_user(email=email)
            Membership.objects.create(user=user, cohort=cohort, role=role)
            client = Client()
            client.force_login(user)
            return client

        lead = client_for("lead@bench.test", Role.LEAD)
        learners = [client_for(f"learner{i}@bench.test") for i in range(args.learners)]

        log = (tmp / "worker.log").open("wb")
        # The README's inference worker.
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "inference", "--pool", "threads",
             "--concurrency", "32", "--loglevel", "WARNING"],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip

        def start_experiment(title: str) -> int:
            body = {"cohort": "bench", "title": title, "model": model.slug, "messages": MESSAGES,
                    "max_tokens": args.tokens, "temperatures": [0, 0.7, 1.5], "top_k": 0, "top_p": 1.0,
                    "min_p": 0.0}  # fmt: skip
            response = lead.post("/api/sandbox/experiments", data=json.dumps(body), content_type="application/json")
            assert response.status_code == 201, response.content
            return response.json()["id"]

        def run(client: Client, experiment: int) -> None:
            for attempt in range(20):  # SQLite without IMMEDIATE transactions: "database is locked"
                try:
                    response = client.post(f"/api/sandbox/experiments/{experiment}/runs", data="{}",
                                           content_type="application/json")  # fmt: skip
                    assert response.status_code == 201, response.content
                    return
                except OperationalError:
                    time.sleep(0.05 * (attempt + 1))
            raise RuntimeError("could not start a run")

        def counted(experiment: int, n: int, deadline: float = 900) -> dict:
            """Poll the lead's results (as the projected page does) until they count n ended runs."""
            end = time.monotonic() + deadline
            while time.monotonic() < end:
                data = lead.get(f"/api/sandbox/experiments/{experiment}").json()
                if sum(arm["runs_done"] + arm["runs_failed"] for arm in data["arms"]) >= n:
                    return data
                time.sleep(POLL_SECONDS)
            raise RuntimeError(f"runs were not counted; worker log:\n{(tmp / 'worker.log').read_text()[-3000:]}")

        # Warm-up: the worker loads the model on its first run.
        warm = start_experiment("warm-up")
        run(learners[0], warm)
        counted(warm, 1)

        # Baseline 1: one learner's run alone.
        alone = start_experiment("alone")
        started = time.perf_counter()
        run(learners[0], alone)
        counted(alone, 1)
        alone_s = time.perf_counter() - started

        # Baseline 2: the same N runs one after another.
        sequential = start_experiment("one after another")
        started = time.perf_counter()
        for i, client in enumerate(learners):
            run(client, sequential)
            counted(sequential, i + 1)
        sequential_s = time.perf_counter() - started

        # The room: N learners click at the same moment.
        room = start_experiment("the room")
        barrier = threading.Barrier(len(learners) + 1)

        def click(client: Client) -> None:
            barrier.wait()
            run(client, room)
            connection.close()

        threads = [threading.Thread(target=click, args=(client,)) for client in learners]
        for thread in threads:
            thread.start()
        barrier.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        posted_s = time.perf_counter() - started
        data = counted(room, len(learners))
        room_s = time.perf_counter() - started

        n = len(learners)
        done = sum(arm["runs_done"] for arm in data["arms"])
        print(f"smollm2-135m Q4_1, {settings.SANDBOX_N_THREADS} llama threads, batch of "
              f"{settings.SANDBOX_BATCH_SEQUENCES}; max_tokens {args.tokens}; arms 0, 0.7, 1.5; {store.label}; "
              f"results polled every {POLL_SECONDS} s")  # fmt: skip
        print(f"one run alone, until counted:            {alone_s:7.2f} s")
        print(f"{n} runs one after another, until counted: {sequential_s:7.2f} s")
        print(f"{n} learners at once, until all counted:   {room_s:7.2f} s  (all {n} POSTs answered in "
              f"{posted_s:.2f} s; {done}/{n} done)")  # fmt: skip
        print(f"ratio room / one alone: {room_s / alone_s:.2f}x; room / one after another: "
              f"{room_s / sequential_s:.2f}x")  # fmt: skip
        for arm in data["arms"]:
            print(f"  T={arm['temperature']:g}: {arm['runs_done']} done, {arm['distinct_outputs']} distinct outputs, "
                  f"fit: {arm['fit_words']}")  # fmt: skip
        print(machine_load())
        return 0
    finally:
        if worker is not None:
            pages.stop(worker)
        if store is not None:
            store.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
