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

from bench.pages_data import COHORT_SLUG, seed  # noqa: E402  (the path above first)


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
