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
import functools
import json
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import backends, worker_room  # noqa: E402

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
    with worker_room.room(args, "experiment", args.threads) as rig:
        model, cohort = rig.model, rig.cohort
        from django.conf import settings
        from django.test import Client

        from cohort.models import Role

        lead = worker_room.signed_in(cohort, "lead@bench.test", Role.LEAD)
        learners = [worker_room.signed_in(cohort, f"learner{i}@bench.test") for i in range(args.learners)]
        rig.start_worker()

        def start_experiment(title: str) -> int:
            body = {"cohort": "bench", "title": title, "model": model.slug, "messages": MESSAGES,
                    "max_tokens": args.tokens, "temperatures": [0, 0.7, 1.5], "top_k": 0, "top_p": 1.0,
                    "min_p": 0.0}  # fmt: skip
            response = lead.post("/api/sandbox/experiments", data=json.dumps(body), content_type="application/json")
            assert response.status_code == 201, response.content
            return response.json()["id"]

        def run(client: Client, experiment: int) -> None:
            def post() -> None:
                response = client.post(f"/api/sandbox/experiments/{experiment}/runs", data="{}",
                                       content_type="application/json")  # fmt: skip
                assert response.status_code == 201, response.content

            worker_room.retry_locked(post)

        def counted(experiment: int, n: int, deadline: float = 900) -> dict:
            """Poll the lead's results (as the projected page does) until they count n ended runs."""
            end = time.monotonic() + deadline
            while time.monotonic() < end:
                data = lead.get(f"/api/sandbox/experiments/{experiment}").json()
                if sum(arm["runs_done"] + arm["runs_failed"] for arm in data["arms"]) >= n:
                    return data
                time.sleep(POLL_SECONDS)
            raise RuntimeError(f"runs were not counted; worker log:\n{rig.worker_log()}")

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
        started = worker_room.all_at_once(functools.partial(run, client, room) for client in learners)
        posted_s = time.perf_counter() - started
        data = counted(room, len(learners))
        room_s = time.perf_counter() - started

        n = len(learners)
        done = sum(arm["runs_done"] for arm in data["arms"])
        print(f"smollm2-135m Q4_1, {settings.SANDBOX_N_THREADS} llama threads, batch of "
              f"{settings.SANDBOX_BATCH_SEQUENCES}; max_tokens {args.tokens}; arms 0, 0.7, 1.5; {rig.store.label}; "
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
        print(worker_room.machine_load())
        return 0


if __name__ == "__main__":
    sys.exit(main())
