"""Every page a learner, a mentor and a lead can open passes axe (WCAG 2.0/2.1/2.2 A and AA) at 1280 and 320 px,
and no page reports a Content-Security-Policy violation.

THE PAGE LIST: `PAGES` below is the one place pages are listed. A page added later is one line:
`A11yPage("lead", "lead home", "/c/{cohort}/lead/home/")`; the placeholders are the fields of `Demo`
(add one there if the page needs an object the demo does not have yet). States that need an action
first (a message, a session going live, the sandbox after a run, lab results) are journeys below.
"""

from __future__ import annotations

import dataclasses
import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from cohort.demo.activity import seed_office_hours_activity
from cohort.demo.office_hours import seed_office_hours
from cohort.demo.roadmap import LEAD_EMAIL, LEARNERS, seed_demo
from cohort.models import Membership, OfficeHoursSession, Role, SessionStatus, User
from cohort.office_hours import services as office_hours
from exercises.demo import seed_demo_completions, seed_exercises
from exercises.models import Exercise, ExerciseKind
from exercises.services import submission_link
from inference.models import RunStatus, SandboxModel, SandboxRun
from tests.e2e.axe import assert_no_axe_violations, assert_no_csp_violations, watch_csp
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 900}
NARROW = {"width": 320, "height": 800}


@dataclasses.dataclass(frozen=True)
class A11yPage:
    role: str  # who opens it: anonymous, learner, mentor, lead
    name: str
    path: str  # formatted with the fields of Demo


PAGES = [
    A11yPage("anonymous", "landing", "/"),
    A11yPage("anonymous", "sign in", "/accounts/login/"),
    A11yPage("anonymous", "sign up", "/accounts/signup/"),
    A11yPage("anonymous", "password reset", "/accounts/password/reset/"),
    A11yPage("learner", "dashboard", "/"),
    A11yPage("learner", "cohort dashboard", "/c/{cohort}/"),
    A11yPage("learner", "profile", "/profile/"),
    A11yPage("learner", "join", "/join/"),
    A11yPage("learner", "step", "/c/{cohort}/steps/{step}/"),
    A11yPage("learner", "exercise", "/c/{cohort}/exercises/{exercise}/"),
    A11yPage("learner", "submission", "/c/{cohort}/submissions/{submission}/"),
    A11yPage("learner", "sessions", "/c/{cohort}/sessions/"),
    A11yPage("learner", "session with a recap", "/c/{cohort}/sessions/{ended}/"),
    A11yPage("learner", "recap", "/c/{cohort}/sessions/{ended}/recap/"),
    A11yPage("learner", "recaps", "/c/{cohort}/sessions/recaps/"),
    A11yPage("learner", "live session", "/c/{cohort}/sessions/{live}/"),
    A11yPage("learner", "live view", "/c/{cohort}/sessions/{live}/live/"),
    A11yPage("learner", "my attendance", "/c/{cohort}/sessions/attendance/"),
    A11yPage("learner", "check-ins", "/c/{cohort}/check-ins/"),
    A11yPage("learner", "invitations", "/invitations/"),
    A11yPage("learner", "sandbox", "/sandbox/"),
    A11yPage("learner", "labs", "/sandbox/labs/"),
    A11yPage("learner", "run page", "/sandbox/runs/{run}/"),
    A11yPage("learner", "compare two runs", "/sandbox/compare/?a={run}&b={other_run}"),
    A11yPage("learner", "experiment results", "/sandbox/experiments/{experiment}/"),
    A11yPage("mentor", "dashboard", "/"),
    A11yPage("mentor", "lead overview", "/c/{cohort}/lead/"),
    A11yPage("mentor", "live session", "/c/{cohort}/sessions/{live}/"),
    A11yPage("mentor", "live view", "/c/{cohort}/sessions/{live}/live/"),
    A11yPage("lead", "lead home", "/"),
    A11yPage("lead", "lead home of the cohort", "/c/{cohort}/lead/home/"),
    A11yPage("lead", "learner page", "/c/{cohort}/lead/learners/{learner_membership}/"),
    A11yPage("lead", "GitHub accounts", "/c/{cohort}/lead/github/"),
    A11yPage("lead", "lead overview", "/c/{cohort}/lead/"),
    A11yPage("lead", "roster", "/c/{cohort}/lead/roster/"),
    A11yPage("lead", "who is stuck", "/c/{cohort}/lead/stuck/"),
    A11yPage("lead", "agenda", "/c/{cohort}/lead/agenda/"),
    A11yPage("lead", "review queue", "/c/{cohort}/lead/reviews/"),
    A11yPage("lead", "exercise matrix", "/c/{cohort}/lead/exercises/"),
    A11yPage("lead", "sessions", "/c/{cohort}/sessions/"),
    A11yPage("lead", "new session", "/c/{cohort}/sessions/new/"),
    A11yPage("lead", "new series", "/c/{cohort}/sessions/series/"),
    A11yPage("lead", "session edit", "/c/{cohort}/sessions/{live}/edit/"),
    A11yPage("lead", "topics", "/c/{cohort}/sessions/{ended}/topics/"),
    A11yPage("lead", "recap edit", "/c/{cohort}/sessions/{ended}/recap/edit/"),
    A11yPage("lead", "attendance", "/c/{cohort}/sessions/{ended}/attendance/"),
    A11yPage("lead", "live session", "/c/{cohort}/sessions/{live}/"),
    A11yPage("lead", "live view", "/c/{cohort}/sessions/{live}/live/"),
    A11yPage("lead", "experiment results", "/sandbox/experiments/{experiment}/"),
    A11yPage("lead", "start an experiment", "/sandbox/experiments/new/?cohort={cohort}&session={live}"),
    A11yPage("lead", "submission", "/c/{cohort}/submissions/{submission}/"),
    A11yPage("lead", "admin index", "/admin/"),
]


@dataclasses.dataclass
class Demo:
    cohort: str
    step: str
    exercise: str
    submission: int
    ended: int
    live: int
    learner_membership: int
    run: int
    other_run: int
    experiment: int
    users: dict[str, User]


def _stored_runs(membership: Membership, model: SandboxModel) -> list[int]:
    """Two finished runs with stored tokens that differ at the second one (no model is run)."""
    ids = []
    for seed, second in ((1, " world"), (2, " there")):
        tokens = [
            {"id": 1, "text": "Hello", "p_model": 0.6, "p_sampled": 0.7, "top_model": [], "top_sampled": []},
            {"id": seed + 1, "text": second, "p_model": 0.3, "p_sampled": 0.4, "top_model": [], "top_sampled": []},
        ]
        run = SandboxRun.objects.create(
            membership=membership,
            model=model,
            status=RunStatus.DONE,
            request={"messages": [{"role": "user", "content": "Say hello."}]},
            params={"temperature": 0.7, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "seed": seed},
            seed=seed,
            tokens=tokens,
            output_text="".join(t["text"] for t in tokens),
        )
        ids.append(run.pk)
    return ids


def _experiment(cohort, lead: User, live: OfficeHoursSession, model: SandboxModel, run_ids: list[int]) -> int:
    """An open experiment in the live session with the two stored runs counted, and one attached to the recap."""
    from inference import experiment_selectors, experiments
    from inference.models import Experiment, ExperimentRun

    lead_membership = Membership.objects.get(cohort=cohort, user=lead)
    request = {"messages": [{"role": "user", "content": "Say hello."}]}
    params = {"top_k": 0, "top_p": 1.0, "min_p": 0.0, "max_tokens": 8}
    experiment = experiments.experiment_start(membership=lead_membership, session=live, title="Say hello",
                                              model=model, request=request, params=params, temperatures=[0.7])  # fmt: skip
    for run in SandboxRun.objects.filter(pk__in=run_ids):
        ExperimentRun.objects.create(experiment=experiment, run=run, membership=run.membership, arm=0)
        experiments.record_run_end(run_id=run.pk, status=run.status, tokens=run.tokens, output_text=run.output_text)
    ended = OfficeHoursSession.objects.get(cohort=cohort, number=1)
    recap = Experiment.objects.create(cohort=cohort, session=ended, created_by=lead_membership, title="Colours",
                                      model=model, request=request, params=params, temperatures=[0.0, 0.7])  # fmt: skip
    results = experiment_selectors.experiment_results(experiment=experiment, for_lead=False)
    experiments.experiment_attach_to_recap(experiment=recap, results={**results, "title": "Colours"})
    return experiment.pk


@pytest.fixture
def demo(smollm2) -> Demo:
    cohort = seed_demo()
    seed_exercises(cohort)
    seed_demo_completions(cohort)
    seed_office_hours_activity(cohort, seed_office_hours(cohort))
    learner = User.objects.get(email=LEARNERS[0][0])
    mentor = UserFactory(email="mentor@example.com", name="Mina Mentor")
    Membership.objects.create(cohort=cohort, user=mentor, role=Role.MENTOR)
    lead = User.objects.get(email=LEAD_EMAIL)
    live = OfficeHoursSession.objects.filter(cohort=cohort).exclude(number=1).order_by("number").first()
    if live is None:  # the demo has one session today; a second one goes live here
        live = office_hours.session_create(
            cohort=cohort, title="Live now", starts_at=timezone.now(), duration_minutes=60, leads=[lead]
        )
    office_hours.session_set_status(session=live, status=SessionStatus.LIVE)
    exercise = Exercise.objects.filter(cohort=cohort, kind=ExerciseKind.PULL_REQUEST).order_by("position").first()
    # The demo seeds pull requests of its own (PR #7 is Bruno's); this learner links a fresh one.
    submission = submission_link(
        membership=Membership.objects.get(cohort=cohort, user=learner),
        exercise=exercise,
        pr_url=f"https://github.com/{cohort.practice_repository}/pull/901",
    )
    runs = _stored_runs(Membership.objects.get(cohort=cohort, user=learner), smollm2)
    experiment = _experiment(cohort, lead, live, smollm2, runs)
    return Demo(
        cohort=cohort.slug,
        step=cohort.steps.order_by("position")[1].slug,
        # An exercise the learner has not linked yet, so its page shows the link form.
        exercise=Exercise.objects.filter(cohort=cohort, kind=ExerciseKind.PULL_REQUEST)
        .exclude(submissions__membership__user=learner)
        .order_by("position")
        .first()
        .slug,
        submission=submission.pk,
        ended=1,
        live=live.number,
        learner_membership=Membership.objects.get(cohort=cohort, user=learner).pk,
        run=runs[0],
        other_run=runs[1],
        experiment=experiment,
        users={"learner": learner, "mentor": mentor, "lead": lead},
    )


def _open(new_page, sign_in, viewport, role: str, demo: Demo) -> Page:
    page = new_page(viewport=viewport)
    watch_csp(page.context)
    if role != "anonymous":
        sign_in(page, demo.users[role])
    return page


@pytest.mark.parametrize("viewport", [DESKTOP, NARROW], ids=["1280", "320"])
def test_every_page_passes_axe_and_its_content_security_policy(new_page, sign_in, demo, viewport):
    pages: dict[str, Page] = {}
    failures = []
    for entry in PAGES:
        page = pages.get(entry.role) or pages.setdefault(
            entry.role, _open(new_page, sign_in, viewport, entry.role, demo)
        )
        path = entry.path.format(**dataclasses.asdict(demo))
        response = page.goto(path)
        assert response is not None and response.status == 200, f"{entry.role} {entry.name} {path}: {response}"
        page.wait_for_load_state("load")
        for check in (assert_no_axe_violations, assert_no_csp_violations):
            try:
                check(page, f"{entry.role} · {entry.name} ({path})")
            except AssertionError as failure:
                failures.append(str(failure))
    assert not failures, "\n\n".join(failures)


def test_pages_with_messages_and_a_session_changing_state_pass_axe(new_page, sign_in, log_in, demo):
    for viewport in (DESKTOP, NARROW):
        # Signing in leaves a message on the next page.
        page = new_page(viewport=viewport)
        watch_csp(page.context)
        page.goto("/accounts/login/")
        log_in(page, LEARNERS[0][0], "firstbreak-demo")
        expect(page.locator(".messages .message").first).to_be_visible()
        assert_no_axe_violations(page, "dashboard with a message")

        # A form error is announced and tied to its field (aria-describedby -> the error's id).
        page.goto(f"/c/{demo.cohort}/exercises/{demo.exercise}/")
        page.get_by_label(re.compile("pull request", re.IGNORECASE)).first.fill("https://example.com/not-a-pr")
        page.locator("main form:has([name=pr_url]) button[type=submit]").click()
        field = page.locator("[aria-invalid=true]").first
        expect(field).to_be_visible()
        for described_by in (field.get_attribute("aria-describedby") or "").split():
            expect(page.locator(f"#{described_by}")).to_have_count(1)
        assert "_error" in (field.get_attribute("aria-describedby") or "")
        assert_no_axe_violations(page, "exercise page with a form error")

        # The lead ends the live session from its page: a message, the page in its new state.
        lead = _open(new_page, sign_in, viewport, "lead", demo)
        lead.goto(f"/c/{demo.cohort}/sessions/{demo.live}/")
        lead.get_by_label("Status").select_option("ended" if viewport is DESKTOP else "live")
        lead.get_by_role("button", name="Set status").click()
        expect(lead.locator(".messages .message").first).to_contain_text(f"Session {demo.live} is now")
        assert_no_axe_violations(lead, "session page after a status change (lead)")
        assert_no_csp_violations(lead)


def test_a_recap_written_in_the_browser_draws_its_diagram_under_the_policy(new_page, sign_in, demo):
    # A textarea submits CRLF line endings; the recap is stored with LF and its ```mermaid block drawn.
    lead = _open(new_page, sign_in, DESKTOP, "lead", demo)
    lead.goto(f"/c/{demo.cohort}/sessions/{demo.ended}/recap/edit/")
    lead.get_by_label("Recap").fill("# Recap\n\n```mermaid\ngraph TD\n  A[Prompt] --> B[Tokens]\n```\n")
    lead.get_by_role("button", name="Save", exact=True).click()  # the demo's recap is published already
    expect(lead.locator(".messages, .recap").first).to_be_visible()
    session = OfficeHoursSession.objects.get(cohort__slug=demo.cohort, number=demo.ended)
    assert "\r" not in session.recap_markdown and 'class="mermaid"' in session.recap_html

    page = _open(new_page, sign_in, DESKTOP, "learner", demo)
    page.goto(f"/c/{demo.cohort}/sessions/{demo.ended}/recap/")

    diagram = page.locator(".recap pre.mermaid svg")
    expect(diagram).to_be_visible()
    expect(diagram).to_contain_text(re.compile("Prompt"))
    assert_no_csp_violations(page)
    assert_no_axe_violations(page, "recap with a diagram")


def test_the_checks_report_a_violation_by_rule_and_element(page: Page, live_server):
    # The helpers must see what they are there to catch: an image without text, a line wider than the
    # screen, an inline script.
    watch_csp(page.context)
    page.goto("/accounts/login/")
    page.evaluate(
        """() => {
            const img = document.createElement("img");
            img.id = "no-alt"; img.src = "/static/favicon.svg";
            document.querySelector("main").append(img);
            const wide = document.createElement("p");
            wide.id = "too-wide"; wide.style.whiteSpace = "nowrap"; wide.textContent = "x".repeat(400);
            document.querySelector("main").append(wide);
            const script = document.createElement("script");
            script.textContent = "window.ranInline = true";
            document.body.append(script);
        }"""
    )

    with pytest.raises(AssertionError, match=r"(?s)image-alt \(critical\).*#no-alt.*reflow.*too-wide"):
        assert_no_axe_violations(page)
    with pytest.raises(AssertionError, match="script-src"):
        assert_no_csp_violations(page)
    assert page.evaluate("window.ranInline") is None
