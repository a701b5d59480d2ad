"""CPU per page in one process, and where it goes: the pages bench/pages.py measures, without gunicorn.

    .venv/bin/python bench/profile_pages.py                 (CPU ms per page)
    .venv/bin/python bench/profile_pages.py --profile lead   (cProfile of pages whose label holds "lead")
    .venv/bin/python bench/profile_pages.py --profile "experiment (lead)"   (the lead's results page)

Same data and production settings as bench/pages.py (DEBUG off, SQLite in a
temporary folder, file cache), served through Django's test client, which
runs the whole middleware stack. CPU time (`time.process_time`) is far less
sensitive to other work on the machine than latency under load: each page's
figure is the minimum over `--rounds` rounds of the mean of `--requests`
requests, so a burst of contention lands in one round and is dropped.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pages import bench_env  # noqa: E402  (the path above first)
from bench.pages_data import COHORT_SLUG, seed  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--requests", type=int, default=10, help="requests per page per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", default="", help="profile the pages whose label contains this text")
    parser.add_argument("--top", type=int, default=40, help="rows of each profile to print")
    parser.add_argument("--sort", default="cumulative", help="pstats sort key")
    parser.add_argument("--callers", default="", help="also print who calls the functions matching this regex")
    parser.add_argument("--callees", default="", help="also print what the functions matching this regex call")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = Path(tempfile.mkdtemp(prefix="firstbreak-profile-"))
    try:
        env = bench_env(tmp)
        os.environ.update(env)
        os.environ.pop("REDIS_URL", None)
        seeded = seed(learners=args.learners, steps=5, questions=args.questions)

        from django.test import Client

        session_path = f"/c/{COHORT_SLUG}/sessions/{seeded.session_number}/"
        learner = {"HTTP_COOKIE": seeded.learner_cookie}
        lead = {"HTTP_COOKIE": seeded.lead_cookie}
        pages = [
            ("floor", "/bench/floor", {}),
            # Not in bench/pages.py: a signed-in page with little of its own, for the fixed cost.
            ("profile (baseline)", "/profile/", learner),
            ("dashboard", "/", learner),
            ("lead overview", f"/c/{COHORT_SLUG}/lead/", lead),
            ("session page", session_path, learner),
            ("lead home", "/", lead),
            ("learner page (lead)", f"/c/{COHORT_SLUG}/lead/learners/{seeded.learner_membership_id}/", lead),
            ("who is stuck (lead)", f"/c/{COHORT_SLUG}/lead/stuck/", lead),
            ("compare", seeded.compare_path, learner),
            ("experiment (lead)", f"/sandbox/experiments/{seeded.experiment_id}/", lead),
            ("experiment poll (lead)", f"/api/sandbox/experiments/{seeded.experiment_id}", lead),
            ("experiment poll", f"/api/sandbox/experiments/{seeded.experiment_id}", learner),
        ]
        client = Client(HTTP_HOST="127.0.0.1")
        for label, path, headers in pages:
            for _ in range(3):  # warm: template loader cache, connections, imports
                response = client.get(path, **headers)
                if response.status_code != 200:
                    raise RuntimeError(f"{label}: {path} answered {response.status_code}")

        best: dict[str, float] = {}
        for _ in range(args.rounds):
            for label, path, headers in pages:
                started = time.process_time()
                for _ in range(args.requests):
                    client.get(path, **headers)
                per = (time.process_time() - started) / args.requests * 1000
                best[label] = min(best.get(label, per), per)
        floor = best["floor"]
        print(f"CPU ms per request, minimum over {args.rounds} rounds of {args.requests}; load {os.getloadavg()}")
        for label, _, _ in pages:
            print(f"  {label:22} {best[label]:7.2f} ms  {best[label] / floor:5.1f}x floor")

        if args.profile:
            for label, path, headers in pages:
                if args.profile not in label:
                    continue
                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(args.requests):
                    client.get(path, **headers)
                profiler.disable()
                out = io.StringIO()
                stats = pstats.Stats(profiler, stream=out).sort_stats(args.sort)
                stats.print_stats(args.top)
                if args.callers:
                    stats.print_callers(args.callers)
                if args.callees:
                    stats.print_callees(args.callees)
                print(f"\n===== {label} ({args.requests} requests) =====")
                print(out.getvalue())
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
