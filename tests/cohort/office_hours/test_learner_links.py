"""Names on the live session's staff panels link to the per-learner page, for leads and mentors only (issue 12)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from cohort.models import Role, SessionRSVP, SessionStatus
from cohort.office_hours import live_services as services
from tests.factories import MembershipFactory, SessionFactory
from tests.helpers import HTMX, cohort_url

pytestmark = pytest.mark.django_db

CODE = "LV4K3Y"


def _learner_page(membership_id: int) -> str:
    return reverse("cohort:learner_detail", args=["cohort-a", membership_id])


def _any_learner_page() -> str:
    # Every per-learner page starts with this; a learner's view must contain none of them.
    return _learner_page(0)[: -len("0/")]


@pytest.fixture
def live_queue(world):  # type: ignore[no-untyped-def]
    session = SessionFactory(
        cohort=world.cohort,
        number=1,
        status=SessionStatus.LIVE,
        starts_at=timezone.now() + dt.timedelta(minutes=5),
        check_in_code=CODE,
        leads=[world.lead],
    )
    services.attendance_check_in(session=session, membership=world.alice_membership, code=CODE)
    SessionRSVP.objects.create(session=session, membership=world.bob_membership)
    services.help_request_join(session=session, membership=world.alice_membership, description="tests fail")
    services.help_request_join(session=session, membership=world.bob_membership, description="merge conflict")
    return session


def test_lead_roster_names_link_to_learner_pages(world, live_queue):
    roster = world.client_for(world.lead).get(cohort_url("session_attendance", "cohort-a", 1), **HTMX).content.decode()

    assert f'href="{_learner_page(world.alice_membership.pk)}"' in roster
    assert f'href="{_learner_page(world.bob_membership.pk)}"' in roster
    # The attendance history stays one click away.
    assert reverse("cohort:member_attendance", args=["cohort-a", world.bob_membership.pk]) in roster


def test_roster_mentor_row_is_not_linked_to_a_learner_page(world, live_queue):
    mentor = MembershipFactory(cohort=world.cohort, role=Role.MENTOR)

    roster = world.client_for(world.lead).get(cohort_url("session_attendance", "cohort-a", 1), **HTMX).content.decode()

    assert _learner_page(mentor.pk) not in roster  # that page is for learners only (it answers 404)
    assert reverse("cohort:member_attendance", args=["cohort-a", mentor.pk]) in roster


@pytest.mark.parametrize("role", [Role.LEAD, Role.MENTOR])
def test_staff_queue_cards_link_names_to_learner_pages(world, live_queue, role):
    staff = world.lead if role == Role.LEAD else MembershipFactory(cohort=world.cohort, role=Role.MENTOR).user
    client = world.client_for(staff)

    for html in (
        client.get(cohort_url("help_queue", "cohort-a", 1), **HTMX).content.decode(),
        client.get(cohort_url("session_live", "cohort-a", 1)).content.decode(),
    ):
        assert f'href="{_learner_page(world.alice_membership.pk)}"' in html
        assert f'href="{_learner_page(world.bob_membership.pk)}"' in html


def test_learners_never_get_links_to_learner_pages(world, live_queue):
    client = world.client_for(world.bob)

    pages = {
        "session": client.get(cohort_url("session", "cohort-a", 1)),
        "live": client.get(cohort_url("session_live", "cohort-a", 1)),
        "queue": client.get(cohort_url("help_queue", "cohort-a", 1), **HTMX),
        "roster": client.get(cohort_url("session_attendance", "cohort-a", 1), **HTMX),
    }

    for name, response in pages.items():
        html = response.content.decode()
        assert _any_learner_page() not in html, name
        assert "tests fail" not in html, name  # nor another learner's description
    assert pages["roster"].status_code == 403
