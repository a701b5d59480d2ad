"""Latency of the busiest pages against a floor view, served by gunicorn on loopback.

    .venv/bin/python bench/pages.py        (or `make bench`)

A fresh SQLite database in a temporary folder gets one cohort (200 learners,
5 steps, progress rows; office hours with 300 questions on the next session;
check-ins, pull requests and attendance for the who-is-stuck page), gunicorn serves `config.wsgi` with production
settings (DEBUG off) plus a bench-only `/bench/floor` view, and 8 client
threads fetch each URL. The floor is the cheapest response the same stack can
give (middleware, gunicorn, TCP), so the ratios travel between machines
better than the milliseconds do; both still grow when other work competes
for the CPUs, which the script warns about. Nothing outside the temporary
folder is touched.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, sys.path[0] is bench/; the project's packages live one level up.
sys.path.insert(0, str(ROOT))

COHORT_SLUG = "bench"


@dataclass(frozen=True)
class Target:
    label: str
    path: str
    cookie: str
    marker: str  # text the page must contain, so a redirect to the login page cannot pass for a result


@dataclass(frozen=True)
class Result:
    target: Target
    latencies: list[float]
    seconds: float
    body_bytes: int

    def percentile(self, p: int) -> float:
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000


def bench_env(tmp: Path) -> dict[str, str]:
    """Production settings, pointed at the temporary folder only."""
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings_bench",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
        VAR_DIR=str(tmp),
        STATIC_ROOT=str(tmp / "static"),
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        EMAIL_HOST="localhost",
        ALLOWED_HOSTS="127.0.0.1",
        # The bench speaks plain HTTP. SESSION_COOKIE_SECURE stays on: it only
        # tells browsers when to send the cookie, and the clients here send it
        # themselves.
        SECURE_SSL_REDIRECT="false",
        LOG_LEVEL="WARNING",
    )
    return env


@dataclass(frozen=True)
class Seeded:
    learner_cookie: str
    lead_cookie: str
    progress_rows: int
    session_number: int  # the upcoming session that holds the questions
    questions: int
    votes: int
    check_ins: int
    submissions: int
    ended_sessions: int
    learner_membership_id: int = 0  # the learner whose per-learner page is measured
    compare_path: str = ""  # /sandbox/compare/ over two 512-token runs of the learner
    experiment_id: int = 0  # a live experiment with 200 finished runs


def seed_compare(*, membership) -> str:  # type: ignore[no-untyped-def]
    """Two stored 512-token runs (no model file is read: the compare page works from stored tokens)."""
    from inference.models import RunStatus, SandboxModel, SandboxRun

    model = SandboxModel.objects.create(slug="bench-model", name="Bench model", path="/nonexistent.gguf")
    runs = []
    for seed in (1, 2):
        tokens = [
            {"id": (i * seed) % 5000, "text": f" w{(i * seed) % 97}", "p_model": 0.3, "p_sampled": 0.4}
            | {"top_model": [], "top_sampled": []}
            for i in range(512)
        ]
        runs.append(
            SandboxRun.objects.create(
                membership=membership,
                model=model,
                status=RunStatus.DONE,
                request={"messages": [{"role": "user", "content": "Tell me a story."}]},
                params={"temperature": 0.7 * seed, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "seed": seed},
                seed=seed,
                tokens=tokens,
                output_text="".join(t["text"] for t in tokens),
            )
        )
    return f"/sandbox/compare/?a={runs[0].pk}&b={runs[1].pk}"


def seed_experiment(*, lead, memberships: list, runs: int = 200) -> int:  # type: ignore[no-untyped-def]
    """A live experiment (3 arms) with `runs` finished runs, counted as the worker counts them when runs end."""
    import random

    from inference.experiments import record_run_end
    from inference.models import Experiment, ExperimentRun, RunStatus, SandboxModel, SandboxRun

    model = SandboxModel.objects.get_or_create(slug="bench-model", defaults={"name": "Bench", "path": "/none.gguf"})[0]
    temperatures = [0.0, 0.7, 1.5]
    experiment = Experiment.objects.create(
        cohort=lead.cohort, created_by=lead, title="Name a colour", model=model,
        request={"messages": [{"role": "user", "content": "Name one colour."}]},
        params={"top_k": 0, "top_p": 1.0, "min_p": 0.0, "max_tokens": 8}, temperatures=temperatures,
    )  # fmt: skip
    rng = random.Random(1)
    words = [" red", " blue", " green", " yellow", " purple", " orange", " black", " white", " pink", " grey"]
    top = [{"id": i, "text": w, "p": p} for i, (w, p) in enumerate(zip(words, [0.3, 0.2, 0.12, 0.1, 0.08, 0.06, 0.05,
                                                                              0.04, 0.03, 0.02], strict=True))]  # fmt: skip
    for i in range(runs):
        arm = i % 3
        first = 0 if arm == 0 else rng.choices(range(10), weights=[c["p"] for c in top])[0]
        tokens = [
            {"id": first, "text": words[first], "p_model": 0.3, "p_sampled": top[first]["p"], "top_model": top,
             "top_sampled": top, "entropy_bits": 2.9}
        ] + [{"id": j, "text": words[(first + j) % 10], "p_model": 0.2, "p_sampled": 0.2, "top_model": top,
              "top_sampled": top, "entropy_bits": 2.5} for j in range(1, 8)]  # fmt: skip
        membership = memberships[i % len(memberships)]
        run = SandboxRun.objects.create(
            membership=membership, model=model, request=experiment.request, status=RunStatus.DONE,
            params={**experiment.params, "temperature": temperatures[arm], "seed": i}, seed=i, tokens=tokens,
            output_text="".join(t["text"] for t in tokens),
        )  # fmt: skip
        ExperimentRun.objects.create(experiment=experiment, run=run, membership=membership, arm=arm)
        record_run_end(run_id=run.pk, status=RunStatus.DONE, tokens=tokens, output_text=run.output_text)
    return experiment.pk


def seed_office_hours(*, cohort, memberships: list, steps: list, lead, questions: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """What the session page and the who-is-stuck page read, in bulk inserts.

    Four ended sessions that most learners attended, an upcoming one with
    `questions` questions (a third answered, each upvoted by up to 20 others),
    two check-ins per learner (every third one blocked), and a pull request for
    every fourth learner (half of them with changes requested).
    """
    from django.utils import timezone

    from cohort.markdown import render_markdown
    from cohort.models import (
        CheckIn,
        CheckInStatus,
        OfficeHoursSession,
        QuestionVote,
        SessionAttendance,
        SessionQuestion,
        SessionRSVP,
        SessionStatus,
        SessionTopic,
    )
    from exercises.models import Exercise, Review, Submission, SubmissionState

    now = timezone.now()
    sessions = OfficeHoursSession.objects.bulk_create(
        OfficeHoursSession(
            cohort=cohort,
            number=n,
            title=f"Office hours {n}",
            starts_at=now + dt.timedelta(days=7 * (n - 5)) + dt.timedelta(hours=2),
            status=SessionStatus.ENDED if n < 5 else SessionStatus.SCHEDULED,
        )
        for n in range(1, 6)
    )
    upcoming = sessions[-1]
    upcoming.leads.set([lead])
    topics = SessionTopic.objects.bulk_create(
        SessionTopic(session=upcoming, position=i, title=f"Topic {i}", step=steps[i - 1]) for i in (1, 2, 3)
    )

    def question_body(i: int) -> str:
        return f"Question {i}: why does **temperature** {i / 10:.1f} change the `top-p` output?\n\nI tried it."

    question_rows = SessionQuestion.objects.bulk_create(
        SessionQuestion(
            session=upcoming,
            author=memberships[i % len(memberships)],
            body=question_body(i),
            body_html=render_markdown(question_body(i)),  # bulk_create skips save(), where the HTML is rendered
            created_at=now - dt.timedelta(minutes=i),
            answered_at=now if i % 3 == 0 else None,
            answered_topic=topics[i % 3] if i % 3 == 0 else None,
        )
        for i in range(questions)
    )
    votes = QuestionVote.objects.bulk_create(
        QuestionVote(question=q, voter=memberships[(i + j + 1) % len(memberships)])
        for i, q in enumerate(question_rows)
        for j in range(i % 20)
    )
    SessionAttendance.objects.bulk_create(
        SessionAttendance(session=s, membership=m) for s in sessions[:4] for i, m in enumerate(memberships) if i % 5
    )
    SessionRSVP.objects.bulk_create(SessionRSVP(session=s, membership=m) for s in sessions for m in memberships[::4])
    check_ins = CheckIn.objects.bulk_create(
        CheckIn(
            membership=m,
            step=steps[i % len(steps)],
            status=CheckInStatus.BLOCKED if (i + k) % 3 == 0 else CheckInStatus.ON_TRACK,
            done_text="Read the chapter and ran the notebook.",
            next_text="Open the pull request.",
            blocker_text="pip install llama-cpp-python fails: cmake not found." if (i + k) % 3 == 0 else "",
            created_at=now - dt.timedelta(hours=i + 24 * k),
        )
        for i, m in enumerate(memberships)
        for k in range(2)
    )
    exercise = Exercise.objects.create(cohort=cohort, step=steps[0], title="First pull request", slug="first-pr")
    submissions = Submission.objects.bulk_create(
        Submission(
            membership=m,
            exercise=exercise,
            repository=cohort.practice_repository,
            pr_number=i + 1,
            pr_url=f"https://github.com/{cohort.practice_repository}/pull/{i + 1}",
            state=SubmissionState.CHANGES_REQUESTED if i % 8 else SubmissionState.OPEN,
            opened_at=now - dt.timedelta(days=i % 10),
        )
        for i, m in enumerate(memberships)
        if i % 4 == 0
    )
    Review.objects.bulk_create(
        Review(
            submission=s,
            github_id=s.pk,
            reviewer_login="bench-lead",
            state="changes_requested",
            submitted_at=now - dt.timedelta(days=s.pr_number % 6),
        )
        for s in submissions
        if s.state == SubmissionState.CHANGES_REQUESTED
    )
    return {
        "session_number": upcoming.number,
        "questions": len(question_rows),
        "votes": len(votes),
        "check_ins": len(check_ins),
        "submissions": len(submissions),
        "ended_sessions": 4,
    }


def seed(*, learners: int, steps: int, questions: int) -> Seeded:
    """Migrate, collect static files, create the cohort; return the learner's and the lead's cookies and the sizes."""
    # Django reads its settings from the environment at import, which main() has just set.
    import django

    # config/__init__.py configures Celery from django.conf.settings as it is
    # imported. Imported first (as gunicorn does through config.wsgi), that
    # loads bench.settings_bench in one go; left to django.setup(), the
    # settings module would re-enter itself half-imported and lose every setting.
    import config  # noqa: F401

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.db import connections
    from django.utils import timezone

    from cohort.models import Cohort, Membership, RoadmapStep, Role, StepProgress, User

    call_command("migrate", interactive=False, verbosity=0)
    # DEBUG off serves static files from whitenoise's manifest, which pages need to render.
    call_command("collectstatic", interactive=False, verbosity=0)

    now = timezone.now()
    cohort = Cohort.objects.create(
        name="Bench cohort",
        slug=COHORT_SLUG,
        starts_on=dt.date(2026, 3, 2),
        ends_on=dt.date(2026, 6, 26),
        practice_repository="first-break-ai/practice",
    )
    step_rows = RoadmapStep.objects.bulk_create(
        RoadmapStep(
            cohort=cohort,
            position=i,
            code=f"Step {i}",
            slug=f"step-{i}",
            title=f"Step {i} of the roadmap",
            summary="What this step is about, in one sentence.",
            body="Some **markdown**.",
        )
        for i in range(1, steps + 1)
    )
    unusable = make_password(None)
    lead, *learner_users = User.objects.bulk_create(
        [User(email="lead@bench.test", name="Lead", github_username="bench-lead", password=unusable)]
        + [
            User(email=f"learner{i}@bench.test", name=f"Learner {i:03d}", github_username=f"l-{i}", password=unusable)
            for i in range(learners)
        ]
    )
    _, *memberships = Membership.objects.bulk_create(
        [Membership(user=lead, cohort=cohort, role=Role.LEAD)]
        + [
            Membership(user=u, cohort=cohort, role=Role.LEARNER, last_activity_at=now - dt.timedelta(hours=i))
            for i, u in enumerate(learner_users)
        ]
    )
    progress = []
    for i, membership in enumerate(memberships):
        # Learner i has touched the first i % (steps + 1) steps and finished all but the last of them.
        touched = step_rows[: i % (steps + 1)]
        for j, step in enumerate(touched):
            done = j < len(touched) - 1
            progress.append(
                StepProgress(
                    membership=membership,
                    step=step,
                    started_at=now - dt.timedelta(days=7),
                    completed_at=now - dt.timedelta(days=1) if done else None,
                    focused_at=None if done else now - dt.timedelta(days=2),
                    last_activity_at=now - dt.timedelta(days=1),
                )
            )
    StepProgress.objects.bulk_create(progress)
    office_hours = seed_office_hours(
        cohort=cohort, memberships=memberships, steps=step_rows, lead=lead, questions=questions
    )

    def cookie(user: User) -> str:
        # What django.contrib.auth.login() stores, without a password round trip.
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"

    # A learner with some progress: the third one has finished one step and is on the next.
    cookies = cookie(learner_users[2]), cookie(lead)
    connections.close_all()  # gunicorn's workers open their own
    # The first learner has a pull request, check-ins and attendance: their page is the one measured.
    compare_path = seed_compare(membership=memberships[2])
    lead_membership = Membership.objects.select_related("cohort").get(user=lead, cohort=cohort)
    experiment_id = seed_experiment(lead=lead_membership, memberships=memberships)
    return Seeded(
        *cookies,
        progress_rows=len(progress),
        learner_membership_id=memberships[0].pk,
        **office_hours,
        compare_path=compare_path,
        experiment_id=experiment_id,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(*, env: dict[str, str], port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        # gunicorn's default worker. It closes each connection after one
        # response, so the clients' keep-alive never applies: every request,
        # the floor's too, pays for a new loopback connection.
        "--worker-class=sync",
        "--chdir",
        str(ROOT),
        # gunicorn 27 otherwise listens on ~/.gunicorn/gunicorn.ctl, shared with any other gunicorn.
        "--no-control-socket",
        "--log-level=warning",
    ]
    with log.open("wb") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def fetch(conn: http.client.HTTPConnection, path: str, cookie: str) -> tuple[int, bytes]:
    headers = {"Cookie": cookie} if cookie else {}
    # http.client keeps the connection open when the server allows it and
    # reconnects by itself after a `Connection: close`.
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            if fetch(conn, "/bench/floor", "")[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
        finally:
            conn.close()
    raise RuntimeError(f"gunicorn did not answer within {timeout:.0f}s:\n{log.read_text()[-3000:]}")


def check(port: int, target: Target) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        status, body = fetch(conn, target.path, target.cookie)
    finally:
        conn.close()
    if status != 200 or target.marker.encode() not in body:
        raise RuntimeError(f"{target.path} answered {status} without {target.marker!r}; not benchmarking that")
    return len(body)


def hammer(
    *, port: int, clients: int, per_client: int, request: Callable[[http.client.HTTPConnection], int], label: str = ""
) -> tuple[list[float], float]:
    """`clients` threads, each on its own connection, each making `per_client` requests back to back.

    `request` sends one request and returns its HTTP status; anything but 200 or 202 stops the bench.
    Returns every latency and the wall time of the whole load.
    """
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures: list[str] = []
    barrier = threading.Barrier(clients + 1)

    def client(mine: list[float]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            barrier.wait()
            for _ in range(per_client):
                started = time.perf_counter()
                status = request(conn)
                mine.append(time.perf_counter() - started)
                if status not in (200, 202):
                    failures.append(f"{label}: HTTP {status}")
                    return
        except Exception as exc:  # reported below, after every thread has stopped
            failures.append(f"{label}: {exc!r}")
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(mine,), daemon=True) for mine in latencies]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} failed requests, first: {failures[0]}")
    return [x for mine in latencies for x in mine], seconds


def load(*, port: int, target: Target, clients: int, per_client: int) -> tuple[list[float], float]:
    """GET `target` from `clients` threads (see `hammer`)."""
    return hammer(
        port=port,
        clients=clients,
        per_client=per_client,
        request=lambda conn: fetch(conn, target.path, target.cookie)[0],
        label=target.path,
    )


def cpu_ticks(gunicorn_pid: int) -> tuple[int, int, int] | None:
    """Clock ticks so far: (whole machine busy, whole machine total, this bench and gunicorn's processes).

    Linux only (/proc); elsewhere None, and the script cannot tell whether
    other work competed for the CPUs.
    """
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except OSError:
        return None
    total = sum(fields)
    busy = total - fields[3] - fields[4]  # minus idle and iowait
    ours = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # exited meanwhile
        after_name = text[text.rindex(")") + 2 :].split()  # the name itself may hold spaces
        pid, ppid = int(stat.parent.name), int(after_name[1])
        if pid in (os.getpid(), gunicorn_pid) or ppid == gunicorn_pid:
            ours += int(after_name[11]) + int(after_name[12])  # utime + stime
    return busy, total, ours


def print_table(results: list[Result]) -> None:
    floor = results[0]
    floor_p50, floor_p95 = floor.percentile(50), floor.percentile(95)
    rows = [("URL", "p50 ms", "p95 ms", "p50/floor", "p95/floor", "req/s", "KB")]
    for r in results:
        p50, p95 = r.percentile(50), r.percentile(95)
        rows.append(
            (
                r.target.label,
                f"{p50:.1f}",
                f"{p95:.1f}",
                f"{p50 / floor_p50:.1f}x",
                f"{p95 / floor_p95:.1f}x",
                f"{len(r.latencies) / r.seconds:.0f}",
                f"{r.body_bytes / 1024:.1f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--questions", type=int, default=300, help="questions on the benchmarked session")
    parser.add_argument("--workers", type=int, choices=range(2, 5), default=4, help="gunicorn sync workers, 2 to 4")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--requests", type=int, default=400, help="measured requests per URL")
    parser.add_argument("--warmup", type=int, default=40, help="unmeasured requests per URL first")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds the requests are split into")
    args = parser.parse_args()
    if args.requests < 2 * args.clients * args.rounds:
        parser.error("--requests must be at least twice --clients x --rounds")

    # SIGTERM (a CI timeout, `kill`) runs the finally below like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = Path(tempfile.mkdtemp(prefix="firstbreak-bench-"))
    proc = None
    try:
        env = bench_env(tmp)
        os.environ.update(env)
        os.environ.pop("REDIS_URL", None)
        seeded = seed(learners=args.learners, steps=args.steps, questions=args.questions)
        learner_cookie, lead_cookie = seeded.learner_cookie, seeded.lead_cookie
        session_path = f"/c/{COHORT_SLUG}/sessions/{seeded.session_number}/"
        targets = [
            Target("/bench/floor", "/bench/floor", "", "ok"),
            Target("/ (learner dashboard)", "/", learner_cookie, "Your progress"),
            Target(
                f"/c/{COHORT_SLUG}/lead/ (lead overview)", f"/c/{COHORT_SLUG}/lead/", lead_cookie, "Cohort overview"
            ),
            Target(
                f"{session_path} (session page, {seeded.questions} questions)",
                session_path,
                learner_cookie,
                f"Question {seeded.questions - 1}:",
            ),
            Target("/ (lead home)", "/", lead_cookie, "Lead home"),
            Target(
                f"/c/{COHORT_SLUG}/lead/learners/<id>/ (per-learner page)",
                f"/c/{COHORT_SLUG}/lead/learners/{seeded.learner_membership_id}/",
                lead_cookie,
                "Progress by step",
            ),
            Target(
                f"/c/{COHORT_SLUG}/lead/stuck/ (who is stuck)",
                f"/c/{COHORT_SLUG}/lead/stuck/",
                lead_cookie,
                "Mark resolved",
            ),
            Target("/sandbox/compare/ (two 512-token runs)", seeded.compare_path, learner_cookie, "first differ"),
            Target(
                "/sandbox/experiments/<id>/ (results, 200 runs)",
                f"/sandbox/experiments/{seeded.experiment_id}/",
                lead_cookie,
                "Temperature 1.5",
            ),
            Target(
                "/api/sandbox/experiments/<id> (results poll, 200 runs)",
                f"/api/sandbox/experiments/{seeded.experiment_id}",
                learner_cookie,
                "runs_done",
            ),
        ]

        port = free_port()
        log = tmp / "gunicorn.log"
        proc = start_gunicorn(env=env, port=port, workers=args.workers, log=log)
        wait_ready(proc, port, log)
        sizes = [check(port, t) for t in targets]

        # Rounds interleave the URLs, so a burst of load from elsewhere on the
        # machine lands on all of them rather than skewing one ratio.
        per_round = max(1, args.requests // (args.clients * args.rounds))
        print(
            f"gunicorn: {args.workers} sync workers on 127.0.0.1:{port}, DEBUG=false, SQLite in {tmp}, "
            f"file cache; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
        )
        print(
            f"data: {args.learners} learners + 1 lead, {args.steps} steps, {seeded.progress_rows} progress rows; "
            f"session {seeded.session_number}: {seeded.questions} questions, {seeded.votes} votes; "
            f"{seeded.check_ins} check-ins, {seeded.submissions} pull requests, {seeded.ended_sessions} ended sessions; "
            f"load: {args.clients} clients, {args.rounds} interleaved rounds x {args.clients * per_round} "
            f"requests per URL after {args.warmup} warm-up"
        )
        ticks_before = cpu_ticks(proc.pid)
        for target in targets:
            load(port=port, target=target, clients=args.clients, per_client=max(1, args.warmup // args.clients))
        # Keyed by label: "/" is measured twice, as the learner dashboard and as the lead home.
        latencies: dict[str, list[float]] = {t.label: [] for t in targets}
        seconds = dict.fromkeys(latencies, 0.0)
        for _ in range(args.rounds):
            for target in targets:
                batch, elapsed = load(port=port, target=target, clients=args.clients, per_client=per_round)
                latencies[target.label] += batch
                seconds[target.label] += elapsed
        results = [
            Result(t, latencies[t.label], seconds[t.label], size) for t, size in zip(targets, sizes, strict=True)
        ]
        print()
        print_table(results)
        ticks_after = cpu_ticks(proc.pid)
        if ticks_before and ticks_after:
            busy, total, ours = (after - before for after, before in zip(ticks_after, ticks_before, strict=True))
            others = max(0, busy - ours) / total
            print(f"\nother processes used {others:.0%} of the machine's CPU time during the measurement")
            if others > 0.1:
                print("warning: they compete with gunicorn and inflate these figures, the heavier pages most")
        return 0
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
