"""What a live office hour costs: the session page's one-second poll under 50 attendees, against the floor view.

    .venv/bin/python bench/live.py

Same stack and data as bench/pages.py (gunicorn, production settings, SQLite
in a temporary folder, 200 learners, the session with 300 questions), with
that session set live, 50 learners checked in and 20 of them in the help
queue. Every open session page polls `live/state/` once a second while the
session is live, sending the keys of what it shows:

- unchanged: nothing changed since the last poll; 204 from the session row alone;
- changed: something every panel shows changed (the first poll after a write):
  the panels that changed, rendered;
- the learner's queue panel and the session page itself, for scale.

Two loads:
1. closed loop, 8 clients back to back (as bench/pages.py): p95 against the floor view;
2. 50 attendees, each polling once a second for `--seconds` (open loop, the
   real pattern): p95, the requests per second served, and the CPU the server
   used for it.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pages import (  # noqa: E402  (the path above first)
    Result,
    Target,
    bench_env,
    check,
    cpu_ticks,
    free_port,
    hammer,
    load,
    print_table,
    start_gunicorn,
    stop,
    wait_ready,
)
from bench.pages_data import COHORT_SLUG, seed  # noqa: E402

ATTENDEES = 50
IN_QUEUE = 20
HTMX = {"HX-Request": "true"}


def go_live(*, session_number: int, attendees: int, in_queue: int) -> list[str]:
    """Set the session live, check `attendees` learners in, queue `in_queue` of them; their cookies."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connections
    from django.utils import timezone

    from cohort.models import Membership, OfficeHoursSession, Role, SessionStatus
    from cohort.office_hours import live_services as live_sessions
    from cohort.office_hours.services import session_set_status

    session = OfficeHoursSession.objects.get(cohort__slug=COHORT_SLUG, number=session_number)
    session.starts_at = timezone.now()
    session.save(update_fields=["starts_at"])
    session_set_status(session=session, status=SessionStatus.LIVE)
    session.refresh_from_db()
    members = list(
        Membership.objects.filter(cohort=session.cohort, role=Role.LEARNER).select_related("user").order_by("pk")
    )[:attendees]
    cookies = []
    for i, member in enumerate(members):
        live_sessions.attendance_check_in(session=session, membership=member, code=session.check_in_code)
        if i < in_queue:
            live_sessions.help_request_join(session=session, membership=member, description=f"Stuck on step {i % 5}")
        store = SessionStore()
        store[SESSION_KEY] = str(member.user.pk)
        store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        store[HASH_SESSION_KEY] = member.user.get_session_auth_hash()
        store.create()
        cookies.append(f"{settings.SESSION_COOKIE_NAME}={store.session_key}")
    connections.close_all()
    return cookies


def get(conn: http.client.HTTPConnection, path: str, cookie: str) -> tuple[int, bytes]:
    conn.request("GET", path, headers={"Cookie": cookie, **HTMX})
    response = conn.getresponse()
    return response.status, response.read()


def current_keys(port: int, session_path: str, cookie: str) -> str:
    """The query string an open page sends: the keys of what it shows, read from the page and its queue panel."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", session_path, headers={"Cookie": cookie})
        page = conn.getresponse().read().decode()
        queue = get(conn, session_path + "queue/", cookie)[1].decode()
    finally:
        conn.close()
    pairs = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)" data-live-key>', page + queue)
    return "&".join(f"{name}={value}" for name, value in dict(pairs).items())


def poll_load(*, port: int, path_for: list[str], cookies: list[str], seconds: float) -> tuple[list[float], int]:
    """Each attendee polls its own URL once a second (open loop): every latency, and how many answers were 204."""
    latencies: list[list[float]] = [[] for _ in cookies]
    unchanged = [0]
    failures: list[str] = []
    lock = threading.Lock()
    start = time.monotonic() + 0.5

    def attendee(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        # Spread the attendees over the second, as pages opened at different moments are.
        next_at = start + i / len(cookies)
        try:
            while next_at < start + seconds:
                time.sleep(max(0.0, next_at - time.monotonic()))
                began = time.perf_counter()
                status, _body = get(conn, path_for[i], cookies[i])
                latencies[i].append(time.perf_counter() - began)
                if status == 204:
                    with lock:
                        unchanged[0] += 1
                elif status != 200:
                    failures.append(f"HTTP {status}")
                    return
                next_at += 1.0
        except Exception as exc:
            failures.append(repr(exc))
        finally:
            conn.close()

    threads = [threading.Thread(target=attendee, args=(i,), daemon=True) for i in range(len(cookies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} failed polls, first: {failures[0]}")
    return [x for mine in latencies for x in mine], unchanged[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, choices=range(2, 5), default=4)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--attendees", type=int, default=ATTENDEES)
    parser.add_argument("--seconds", type=float, default=20, help="length of the 50-attendee polling run")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = Path(tempfile.mkdtemp(prefix="firstbreak-bench-live-"))
    proc = None
    try:
        env = bench_env(tmp)
        os.environ.update(env)
        os.environ.pop("REDIS_URL", None)
        seeded = seed(learners=200, steps=5, questions=300)
        cookies = go_live(session_number=seeded.session_number, attendees=args.attendees, in_queue=IN_QUEUE)
        session_path = f"/c/{COHORT_SLUG}/sessions/{seeded.session_number}/"
        state_path = session_path + "live/state/"

        port = free_port()
        log = tmp / "gunicorn.log"
        proc = start_gunicorn(env=env, port=port, workers=args.workers, log=log)
        wait_ready(proc, port, log)

        fresh = [current_keys(port, session_path, cookie) for cookie in cookies]
        # A stale page: every key out of date, so every panel is rendered (the worst poll).
        stale = "v=old&s=old&page=session&r=old&q=old&qm=waiting&a=old"
        learner = cookies[0]
        htmx_targets = [
            Target("live/state/ unchanged (204)", f"{state_path}?{fresh[0]}", learner, ""),
            Target("live/state/ every panel changed", f"{state_path}?{stale}", learner, "live-pulse"),
            Target("queue/ (learner's queue panel)", session_path + "queue/", learner, "help-queue"),
        ]
        page_targets = [
            Target("/bench/floor", "/bench/floor", "", "ok"),
            Target(f"{session_path} (session page, live)", session_path, learner, "live-pulse"),
        ]
        sizes = [check(port, t) for t in page_targets]
        for target in htmx_targets:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            status, body = get(conn, target.path, target.cookie)
            conn.close()
            expected = 204 if "unchanged" in target.label else 200
            if status != expected or target.marker.encode() not in body:
                raise RuntimeError(f"{target.path} answered {status}; expected {expected}")
            sizes.append(len(body))

        print(
            f"gunicorn: {args.workers} sync workers, DEBUG=false, SQLite; session {seeded.session_number} live with "
            f"{seeded.questions} questions, {args.attendees} checked in, {IN_QUEUE} in the queue; {os.cpu_count()} CPUs"
        )
        targets = page_targets + htmx_targets
        per_client = max(1, args.requests // args.clients)
        results = []
        for target, size in zip(targets, sizes, strict=True):
            headers_htmx = target in htmx_targets
            # Warm up, then measure.
            if headers_htmx:

                def request(conn: http.client.HTTPConnection, t: Target = target) -> int:
                    status = get(conn, t.path, t.cookie)[0]
                    return 200 if status == 204 else status

                hammer(port=port, clients=args.clients, per_client=5, request=request, label=target.path)
                batch, elapsed = hammer(
                    port=port, clients=args.clients, per_client=per_client, request=request, label=target.path
                )
            else:
                load(port=port, target=target, clients=args.clients, per_client=5)
                batch, elapsed = load(port=port, target=target, clients=args.clients, per_client=per_client)
            results.append(Result(target, batch, elapsed, size))
        print(f"\n1. closed loop, {args.clients} clients back to back, {args.clients * per_client} requests each:\n")
        print_table(results)

        paths = [f"{state_path}?{keys}" for keys in fresh]
        before = cpu_ticks(proc.pid)
        began = time.monotonic()
        latencies, unchanged = poll_load(port=port, path_for=paths, cookies=cookies, seconds=args.seconds)
        wall = time.monotonic() - began
        after = cpu_ticks(proc.pid)
        p95 = statistics.quantiles(latencies, n=100, method="inclusive")[94] * 1000
        p50 = statistics.median(latencies) * 1000
        print(
            f"\n2. {args.attendees} attendees polling live/state/ once a second for {args.seconds:.0f} s: "
            f"{len(latencies)} polls, {len(latencies) / wall:.0f} req/s, p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
            f"{unchanged} answered 204"
        )
        if before and after:
            busy, total, ours = (a - b for a, b in zip(after, before, strict=True))
            cpus = os.cpu_count() or 1
            print(
                f"   server and bench used {ours / total * cpus:.2f} CPU cores on average "
                f"(other processes: {max(0, busy - ours) / total:.0%} of the machine)"
            )
        return 0
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
