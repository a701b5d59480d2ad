"""Every URL that names an object, asked for by a lead of ANOTHER cohort with their own cohort's slug.

The list of URLs comes from the URL conf itself, so a view added later is
covered without anyone remembering to add it here: its object-id arguments
must have a value below, or this test fails and says which one is missing.
A lead of cohort B may pass every "is this a lead of the cohort in the URL?"
check; what must stop them is that the object belongs to cohort A.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from cohort.models import (
    CheckIn,
    HelpRequest,
    Invitation,
    OfficeHoursSession,
    Role,
    SessionAnnouncement,
    SessionQuestion,
    SessionTopic,
)
from exercises.models import Exercise, Submission
from inference.models import Experiment, LabJob, LabKind, SandboxRun
from tests.factories import CohortFactory, MembershipFactory, StepFactory

pytestmark = pytest.mark.django_db

# Arguments that are not object ids owned by a cohort: secrets (their own tests
# cover them), public invite codes, and the registry's model slugs.
NOT_OBJECT_IDS = {"token", "invite_code", "slug"}
ALLOWED = {403, 404, 405}
NOBODYS = 987654321


@dataclass(frozen=True)
class Route:
    name: str
    pattern: str
    kwargs: tuple[str, ...]


def _routes(resolver: URLResolver | None = None, prefix: str = "", namespace: str = "") -> list[Route]:
    resolver = resolver or get_resolver()
    routes: list[Route] = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner_ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            routes += _routes(entry, prefix + str(entry.pattern), inner_ns)
        elif isinstance(entry, URLPattern):
            pattern = prefix + str(entry.pattern)
            kwargs = tuple(entry.pattern.converters) if hasattr(entry.pattern, "converters") else ()
            routes.append(Route(f"{namespace}{entry.name}", pattern, kwargs))
    return routes


def _object_routes() -> list[Route]:
    return [
        route
        for route in _routes()
        if set(route.kwargs) - {"cohort_slug"} - NOT_OBJECT_IDS and not route.pattern.startswith("admin/")
    ]


@pytest.fixture
def cohort_a_objects(world, smollm2):  # type: ignore[no-untyped-def]
    """One object of every kind in cohort A, with ids and slugs that exist only there."""
    cohort, alice_m = world.cohort, world.alice_membership
    step = StepFactory(cohort=cohort, position=9, code="Step 9", slug="only-in-cohort-a")
    session = OfficeHoursSession.objects.create(
        cohort=cohort, number=77, title="A's session", starts_at=timezone.now() - dt.timedelta(minutes=5), status="live"
    )
    topic = SessionTopic.objects.create(session=session, position=1, title="A's topic", step=step)
    question = SessionQuestion.objects.create(session=session, author=alice_m, body="A's question?")
    help_request = HelpRequest.objects.create(session=session, membership=alice_m, description="A needs help")
    check_in = CheckIn.objects.create(membership=alice_m, step=step, status="blocked", blocker_text="stuck")
    exercise = Exercise.objects.create(cohort=cohort, step=step, title="A's exercise", slug="only-in-a-exercise")
    submission = Submission.objects.create(
        membership=alice_m,
        exercise=exercise,
        repository="org/repo",
        pr_number=5,
        pr_url="https://github.com/org/repo/pull/5",
    )
    run = SandboxRun.objects.create(membership=alice_m, model=smollm2, request={"prompt": "secret"}, params={}, seed=1)
    lab = LabJob.objects.create(membership=alice_m, model=smollm2, kind=LabKind.SWEEP, input={})
    invitation = Invitation.objects.create(cohort=cohort, email="someone@example.com")
    announcement = SessionAnnouncement.objects.create(session=session, body="Back in 5", author=world.lead)
    lead_m = world.cohort.memberships.get(user=world.lead)
    experiment = Experiment.objects.create(cohort=cohort, session=session, created_by=lead_m, title="A's experiment",
                                           model=smollm2, request={"prompt": "x"}, params={}, temperatures=[0.7])  # fmt: skip
    return {
        "number": session.number,
        "topic_id": topic.pk,
        "question_id": question.pk,
        "request_id": help_request.pk,
        "check_in_id": check_in.pk,
        "membership_id": alice_m.pk,
        "step_slug": step.slug,
        "exercise_slug": exercise.slug,
        "submission_id": submission.pk,
        "run_id": run.pk,
        "job_id": lab.pk,
        "invitation_id": invitation.pk,
        "announcement_id": announcement.pk,
        "learner_id": alice_m.pk,
        "user_id": world.alice.pk,
        "experiment_id": experiment.pk,
    }


def _fill(pattern: str, values: dict[str, object]) -> str:
    path = pattern
    for name, value in values.items():
        for converter in ("int", "slug", "str", "path"):
            path = path.replace(f"<{converter}:{name}>", str(value))
        path = path.replace(f"<{name}>", str(value))
    return "/" + path.lstrip("^").rstrip("$")


def _values_for(route: Route, values: dict[str, object]) -> dict[str, object]:
    # The API (django-ninja) names every object `id`: which object depends on the path.
    if "id" in route.kwargs:
        kind = (
            "experiment_id"
            if "/experiments/" in route.pattern
            else "run_id"
            if "/runs/" in route.pattern
            else "job_id"
            if "/labs/" in route.pattern
            else ""
        )
        if kind:
            return {**values, "id": values[kind]}
    return values


def test_the_url_conf_has_object_routes_to_check():
    names = {route.name for route in _object_routes()}

    assert {"cohort:session", "exercises:submission", "cohort:question_vote"} <= names


def test_a_lead_of_another_cohort_reaches_no_object_of_cohort_a(world, cohort_a_objects):
    other_cohort = CohortFactory(slug="cohort-other")
    StepFactory(cohort=other_cohort, position=1, code="Step 1", slug="step-1")
    other_lead = MembershipFactory(cohort=other_cohort, role=Role.LEAD).user
    client = Client()
    client.force_login(other_lead)
    values = {"cohort_slug": other_cohort.slug, **cohort_a_objects}

    missing, leaks = [], []
    for route in _object_routes():
        route_values = _values_for(route, values)
        unknown = set(route.kwargs) - set(route_values) - NOT_OBJECT_IDS
        if unknown:
            missing.append(f"{route.name} ({route.pattern}): no value for {sorted(unknown)}")
            continue
        url = _fill(route.pattern, route_values)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            if response.status_code in ALLOWED:
                continue
            # A refusal that does not depend on the object (the API validates a body before it
            # looks anything up) says nothing about cohort A: the same as for an id nobody has.
            nowhere = _fill(route.pattern, route_values | {k: NOBODYS for k in route.kwargs if k != "cohort_slug"})
            if response.status_code >= 400 and getattr(client, method)(nowhere).status_code == response.status_code:
                continue
            leaks.append(f"{method.upper()} {url} ({route.name}) -> {response.status_code}")

    assert not missing, "Add a cohort-A object for these URL arguments:\n" + "\n".join(missing)
    assert not leaks, "A lead of another cohort reached cohort A's objects:\n" + "\n".join(leaks)
