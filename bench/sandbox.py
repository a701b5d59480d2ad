"""Sandbox generation speed against plain llama-cpp-python, and time to first token.

    .venv/bin/python bench/sandbox.py [--postgres URL --redis URL]

Same model (smollm2-135m, Q4_1), prompt, thread count and 128 new tokens:
1. baseline: `Llama.create_completion` without logprobs, in this process;
2. the sandbox: a run through the JSON API executed by a running Celery
   worker, recording every token's probabilities with top_n=20.
Then time to first token with the worker warm: POST to the first token
visible through the API, p50 and p95 over several runs.
By default SQLite and the embedded broker (which polls once a second, so
time to first token is only meaningful with --redis).
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import backends, worker_room  # noqa: E402

PROMPT = "1, 2, 3, 4, 5,"
NEW_TOKENS = 128


def baseline_tokens_per_second(path: str, threads: int) -> float:
    from llama_cpp import Llama

    llm = Llama(model_path=path, n_ctx=4096, n_threads=threads, n_threads_batch=threads, verbose=False)
    llm.create_completion(PROMPT, max_tokens=8, temperature=0)  # warm-up
    best = 0.0
    for _ in range(3):
        started = time.perf_counter()
        out = llm.create_completion(PROMPT, max_tokens=NEW_TOKENS, temperature=0)
        prompt_and_gen = time.perf_counter() - started
        n = out["usage"]["completion_tokens"]
        # create_completion's time includes the prompt; take the fastest of three.
        best = max(best, n / prompt_and_gen)
    llm.close()
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ttft-runs", type=int, default=10)
    backends.add_arguments(parser)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with worker_room.room(args, "sandbox") as rig:
        model, cohort = rig.model, rig.cohort
        from django.conf import settings

        threads = settings.SANDBOX_N_THREADS
        client = worker_room.signed_in(cohort, "bench@bench.test")

        base = baseline_tokens_per_second(model.path, threads)
        rig.start_worker()

        def start(max_tokens: int) -> int:
            body = {
                "model": model.slug,
                "prompt": PROMPT,
                "temperature": 0,
                "max_tokens": max_tokens,
                "top_n": 20,
                "seed": 1,
            }
            response = client.post("/api/sandbox/runs", data=json.dumps(body), content_type="application/json")
            assert response.status_code == 201, response.content
            return response.json()["id"]

        def poll(run_id: int, until, interval: float = 0.25) -> dict:  # type: ignore[no-untyped-def]
            # Every 250 ms, asking only for new tokens (`since`), as a page should.
            deadline, seen = time.monotonic() + 300, 0
            while time.monotonic() < deadline:
                data = client.get(f"/api/sandbox/runs/{run_id}", {"since": seen}).json()
                seen = data["token_count"]
                if until(data):
                    return data
                time.sleep(interval)
            raise RuntimeError(f"run {run_id} did not progress; worker log:\n{rig.worker_log()}")

        finished = lambda d: d["status"] in ("done", "failed", "cancelled")  # noqa: E731
        poll(start(4), finished)  # loads the model in the worker child
        started = time.perf_counter()
        run = poll(start(NEW_TOKENS), finished)
        wall = time.perf_counter() - started
        if run["status"] != "done":
            raise RuntimeError(run["error"])
        n = run["token_count"]
        api_rate = run["timings"]["tokens_per_second"]

        ttft = []
        for _ in range(args.ttft_runs):
            started = time.perf_counter()
            run_id = start(4)
            poll(run_id, lambda d: bool(d["tokens"]) or finished(d), interval=0.005)
            ttft.append(time.perf_counter() - started)
            poll(run_id, finished)

        backend = rig.store.label
        print(f"smollm2-135m Q4_1, {threads} threads, prompt {PROMPT!r}, {NEW_TOKENS} new tokens; {backend}")
        print(f"baseline create_completion (no logprobs):      {base:6.1f} tok/s")
        print(f"sandbox run, top_n=20, generation in worker:  {api_rate:6.1f} tok/s   ratio {api_rate / base:.2f}")
        print(
            f"sandbox run, POST to done through the API:    {n / wall:6.1f} tok/s   ratio {n / wall / base:.2f}  ({n} tokens)"
        )
        q = statistics.quantiles(ttft, n=20, method="inclusive")
        print(
            f"time to first token, warm worker, {len(ttft)} runs: p50 {statistics.median(ttft) * 1000:.0f} ms, p95 {q[18] * 1000:.0f} ms"
        )
        return 0


if __name__ == "__main__":
    sys.exit(main())
