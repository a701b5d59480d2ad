"""Webhook intake throughput and POST-to-state lag, against a floor view on the same server.

    .venv/bin/python bench/webhooks.py        (also part of `make bench`)

1. Intake: gunicorn (4 sync workers) and 16 concurrent senders POST signed
   `pull_request` deliveries; printed beside the floor view's figures, as ratios.
2. Lag: with one Celery worker running, a linked pull request gets new commits
   (`synchronize` with a new head SHA); the time from the POST until the
   submission shows the new SHA in the database, p50 and p95.
By default SQLite and the embedded broker in a temporary folder. With
`--postgres postgres://user@host:5432` it creates (and drops) a scratch
database there, and with `--redis redis://host:6379/13` it uses (and flushes)
that Redis database: the production setup.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import backends, pages  # noqa: E402

SECRET = "bench-secret"
REPO = "first-break-ai/practice"


def pr_payload(*, number: int, sha: str, updated_at: str, login: str = "bench-learner") -> bytes:
    return json.dumps(
        {
            "action": "synchronize",
            "number": number,
            "pull_request": {
                "number": number,
                "html_url": f"https://github.com/{REPO}/pull/{number}",
                "state": "open",
                "title": "first-pr bench",
                "user": {"login": login},
                "draft": False,
                "head": {"ref": "first-pr-bench", "sha": sha},
                "created_at": "2026-03-10T09:00:00Z",
                "updated_at": updated_at,
                "merged": False,
                "mergeable_state": "clean",
            },
            "repository": {"full_name": REPO},
            "sender": {"login": login},
        }
    ).encode()


def post(conn: http.client.HTTPConnection, body: bytes, event: str = "pull_request") -> int:
    from exercises.github import sign

    conn.request(
        "POST",
        "/webhooks/github/",
        body=body,
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-GitHub-Hook-ID": "1",
            "X-Hub-Signature-256": sign(SECRET, body),
        },
    )
    response = conn.getresponse()
    response.read()
    return response.status


def percentiles(values: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49] * 1000, q[94] * 1000


def floor_request(conn: http.client.HTTPConnection) -> int:
    conn.request("GET", "/bench/floor")
    response = conn.getresponse()
    response.read()
    return response.status


def seed_linked_pr() -> int:
    import django

    import config  # noqa: F401  (see bench/pages.py: load settings through config first)

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from cohort.models import Cohort, Membership, RoadmapStep, User
    from exercises.models import Exercise, Submission

    call_command("migrate", interactive=False, verbosity=0)
    cohort = Cohort.objects.create(
        name="Bench", slug="bench", starts_on="2026-03-02", ends_on="2026-06-26", practice_repository=REPO
    )
    step = RoadmapStep.objects.create(cohort=cohort, position=1, code="Step 1", slug="step-1", title="Step 1")
    user = User.objects.create_user(
        email="bench@bench.test", github_username="bench-learner", github_confirmed_at="2026-03-01T00:00:00Z"
    )
    membership = Membership.objects.create(user=user, cohort=cohort)
    exercise = Exercise.objects.create(cohort=cohort, step=step, title="First PR", slug="first-pr")
    submission = Submission.objects.create(
        membership=membership,
        exercise=exercise,
        repository=REPO,
        pr_number=1,
        pr_url=f"https://github.com/{REPO}/pull/1",
    )
    connections.close_all()
    return submission.pk


def measure_lag(port: int, submission_id: int, rounds: int, first: int = 0) -> list[float]:
    from django.db import connections

    from exercises.models import Submission

    lags = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for n in range(first, first + rounds):
        sha = f"{n:040x}"
        body = pr_payload(number=1, sha=sha, updated_at=f"2026-03-11T{n // 60:02d}:{n % 60:02d}:00Z")
        started = time.perf_counter()
        if post(conn, body) != 202:
            raise RuntimeError("intake refused a delivery")
        deadline = started + 30
        while Submission.objects.filter(pk=submission_id).values_list("head_sha", flat=True).get() != sha:
            if time.perf_counter() > deadline:
                raise RuntimeError("the worker did not apply a delivery within 30 s")
            time.sleep(0.005)
        lags.append(time.perf_counter() - started)
        connections.close_all()
    conn.close()
    return lags


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--senders", type=int, default=16)
    parser.add_argument("--deliveries", type=int, default=800, help="measured deliveries (intake)")
    parser.add_argument("--lag-rounds", type=int, default=40)
    backends.add_arguments(parser)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = Path(tempfile.mkdtemp(prefix="firstbreak-bench-hooks-"))
    procs: list[subprocess.Popen[bytes]] = []
    store = None
    try:
        env = pages.bench_env(tmp)
        env["GITHUB_WEBHOOK_SECRETS"] = SECRET
        store = backends.Backends(args, env).start()
        submission_id = seed_linked_pr()

        port = pages.free_port()
        log = tmp / "gunicorn.log"
        procs.append(pages.start_gunicorn(env=env, port=port, workers=4, log=log))
        pages.wait_ready(procs[0], port, log)

        per_sender = max(1, args.deliveries // args.senders)
        unlinked = pr_payload(number=999, sha="f" * 40, updated_at="2026-03-10T10:00:00Z", login="someone-else")
        pages.hammer(port=port, clients=args.senders, per_client=5, request=floor_request, label="floor")  # warm-up
        floor, floor_s = pages.hammer(
            port=port, clients=args.senders, per_client=per_sender, request=floor_request, label="floor"
        )
        intake, intake_s = pages.hammer(
            port=port, clients=args.senders, per_client=per_sender, request=lambda c: post(c, unlinked), label="intake"
        )
        f50, f95 = percentiles(floor)
        i50, i95 = percentiles(intake)
        backend = store.label
        print(f"gunicorn 4 sync workers, {args.senders} concurrent senders, {len(intake)} signed deliveries; {backend}")
        print(f"{'':28}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}")
        print(f"{'floor view':28}{len(floor) / floor_s:8.0f}{f50:9.1f}{f95:9.1f}")
        print(f"{'webhook intake':28}{len(intake) / intake_s:8.0f}{i50:9.1f}{i95:9.1f}")
        print(
            f"ratio intake/floor: throughput {len(intake) / intake_s / (len(floor) / floor_s):.2f}x, p50 {i50 / f50:.1f}x, p95 {i95 / f95:.1f}x"
        )

        # The intake's deliveries above are for an unlinked PR, which a worker would only mark
        # ignored: do that here and empty the queue, so the lag is measured on an idle worker
        # (the embedded broker hands out about one message per poll and would take minutes).
        from config.celery import app as celery_app
        from exercises.models import DeliveryStatus, WebhookDelivery

        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).update(status=DeliveryStatus.IGNORED)
        celery_app.control.purge()
        worker_log = (tmp / "worker.log").open("wb")
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "-Q",
                    "default",
                    "--concurrency",
                    "1",
                    "--loglevel",
                    "WARNING",
                ],
                env=env,
                cwd=ROOT,
                stdout=worker_log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        )
        measure_lag(port, submission_id, 3)  # unmeasured: the worker starting up and warming its connections
        lags = measure_lag(port, submission_id, args.lag_rounds, first=3)
        l50, l95 = percentiles(lags)
        print(f"lag POST -> submission state, one worker, {len(lags)} deliveries: p50 {l50:.0f} ms, p95 {l95:.0f} ms")
        return 0
    finally:
        for proc in reversed(procs):
            pages.stop(proc)
        if store is not None:
            store.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
