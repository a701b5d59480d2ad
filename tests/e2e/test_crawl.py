"""Every page a role can reach by clicking, in every session state, answers without an error.

The worst bug of an earlier round (a 500 on the session page after checking in) passed
every test because no test opened the page as that viewer in that state. This crawler
does what a person clicking around would: as the lead and two learners, at a laptop's
and a phone's width, it follows every same-origin link from the home page, with the demo
data of `make run` and DEBUG off (the live server's setting), first with the demo's
sessions as seeded (one ended, one scheduled), then with Session 2 live and one learner
checked in. On each page: no 4xx/5xx, no uncaught script error or console error (a
Content-Security-Policy violation is one), nothing wider than the screen.

Links that only differ in their ids are one kind of page: the crawler opens two of each,
so a cohort with many runs or questions does not make the test slow.
"""

from __future__ import annotations

import re
from collections import deque
from urllib.parse import urldefrag, urlsplit

import pytest
from playwright.sync_api import Page

from cohort.demo import roadmap as demo
from cohort.demo.activity import seed_office_hours_activity
from cohort.demo.office_hours import seed_office_hours
from cohort.models import Cohort, Membership, OfficeHoursSession, SessionStatus, User
from cohort.office_hours import live_services
from cohort.office_hours.services import session_set_status
from exercises.demo import seed_demo_completions, seed_exercises

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
PER_KIND = 2
MAX_PAGES = 100
# GETs that end the visit or leave the HTML pages: a crawler must not sign itself out.
SKIP = re.compile(r"/logout/|/accounts/(?:password|email|3rdparty|social)|^/static/|^/media/|/admin/.*/delete/")
ID = re.compile(r"\d+")
# Files the browser would download rather than show (calendars, exports): fetched, not opened.
DOWNLOAD = re.compile(r"\.(?:ics|svg|json|txt|csv|md)$|/download/|/export/")


def _seed_demo() -> Cohort:
    cohort = demo.seed_demo()
    seed_exercises(cohort)
    seed_demo_completions(cohort)
    seed_office_hours_activity(cohort, seed_office_hours(cohort))
    return cohort


def _kind(path: str) -> str:
    """The page a link opens, ids blanked: /sandbox/runs/12/ and /sandbox/runs/13/ are one kind.

    The admin's filter and sort links are one kind per list: Django's admin is tested upstream.
    """
    parts = urlsplit(path)
    if parts.path.startswith("/admin/"):
        return ID.sub("N", parts.path)
    query = "&".join(sorted(p.split("=")[0] for p in parts.query.split("&") if p))
    return ID.sub("N", parts.path) + ("?" + query if query else "")


def crawl(page: Page, origin: str, start: str = "/") -> dict[str, str]:
    """Visit what `page`'s user can reach from `start`; returns {path: problem} for every failing page."""
    problems: dict[str, str] = {}
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: messages.append(f"uncaught: {e}"))
    # The project's own pages first; the admin's when they are done (it has many and they are alike).
    queue, admin_queue, seen, kinds = deque([start]), deque(), {start}, {}
    visited = 0
    while (queue or admin_queue) and visited < MAX_PAGES:
        path = (queue or admin_queue).popleft()
        messages.clear()
        visited += 1
        if DOWNLOAD.search(urlsplit(path).path):
            fetched = page.request.get(path)
            if fetched.status >= 400:
                problems[path] = f"HTTP {fetched.status}"
            continue
        response = page.goto(path, wait_until="load")
        if response is None or response.status >= 400:
            problems[path] = f"HTTP {response.status if response else 'no response'}"
            continue
        if "text/html" not in (response.headers.get("content-type") or ""):
            continue
        page.wait_for_timeout(150)  # scripts that run after load (live panels' first poll) report here
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        if overflow > 0:
            problems[path] = f"{overflow}px wider than the screen"
        if messages:
            problems[path] = "; ".join(messages)
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"):
            url, _ = urldefrag(href)
            if not url.startswith(origin):
                continue
            target = url[len(origin) :] or "/"
            kind = _kind(target)
            if target in seen or SKIP.search(target) or kinds.get(kind, 0) >= PER_KIND:
                continue
            seen.add(target)
            kinds[kind] = kinds.get(kind, 0) + 1
            (admin_queue if target.startswith("/admin/") else queue).append(target)
    assert not queue, f"the crawl stopped at {MAX_PAGES} pages before the project's own: {list(queue)[:10]}"
    assert visited > 10, f"the crawl reached only {visited} pages from {start}: is the user signed in?"
    return problems


@pytest.mark.parametrize("state", ["as-seeded", "session-live"])
def test_every_reachable_page_works_for_every_role(new_page, sign_in, live_server, state):
    cohort = _seed_demo()
    if state == "session-live":
        session = OfficeHoursSession.objects.get(cohort=cohort, number=2)
        session_set_status(session=session, status=SessionStatus.LIVE)
        session.refresh_from_db()
        checked_in = Membership.objects.get(cohort=cohort, user__email=demo.LEARNERS[0][0])
        live_services.attendance_check_in(session=session, membership=checked_in, code=session.check_in_code)
    viewers = [
        (demo.LEAD_EMAIL, DESKTOP),
        (demo.LEARNERS[0][0], DESKTOP),
        (demo.LEARNERS[1][0], PHONE),
        (demo.LEAD_EMAIL, PHONE),
    ]
    failures = {}
    for email, viewport in viewers:
        page = new_page(viewport=viewport)
        sign_in(page, User.objects.get(email=email))
        for path, problem in crawl(page, live_server.url).items():
            failures[f"{email} at {viewport['width']}px: {path}"] = problem
        page.context.close()
    assert not failures, "\n".join(f"{where}: {problem}" for where, problem in failures.items())
