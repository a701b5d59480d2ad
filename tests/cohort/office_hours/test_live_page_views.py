"""The session page and the live page: the panels each role sees, and query counts that do not grow with the crowd."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import make_password

from cohort.models import (
    HelpRequest,
    Membership,
    OfficeHoursSession,
    Role,
    SessionAttendance,
    SessionRSVP,
    SessionStatus,
    User,
)
from cohort.office_hours import live_services as services
from tests.cohort.office_hours.conftest import SESSION_PAGE_QUERIES, SESSION_PAGE_WARM_QUERIES
from tests.helpers import HTMX, cohort_url

pytestmark = pytest.mark.django_db


# --- The session page and the live page ---------------------------------------------------


def test_session_page_places_the_panels_per_role(world, live):
    alice = world.client_for(world.alice).get(cohort_url("session", "cohort-a", 1)).content.decode()
    lead = world.client_for(world.lead).get(cohort_url("session", "cohort-a", 1)).content.decode()

    for html in (alice, lead):
        assert 'id="rsvp-panel"' in html  # rendered with the page
        assert f'hx-get="{cohort_url("help_queue", "cohort-a", 1)}" hx-trigger="load"' in html
        assert "css/live_session.css" in html
        assert cohort_url("session_live", "cohort-a", 1) in html  # the no-JavaScript way in
    assert cohort_url("session_attendance", "cohort-a", 1) in lead
    assert cohort_url("session_attendance", "cohort-a", 1) not in alice


def test_session_page_hides_the_queue_from_learners_once_ended(world, live):
    OfficeHoursSession.objects.filter(pk=live.pk).update(status=SessionStatus.ENDED)

    alice = world.client_for(world.alice).get(cohort_url("session", "cohort-a", 1)).content.decode()
    lead = world.client_for(world.lead).get(cohort_url("session", "cohort-a", 1)).content.decode()

    assert cohort_url("help_queue", "cohort-a", 1) not in alice
    assert cohort_url("help_queue", "cohort-a", 1) in lead  # who was helped, as history


def _crowd(cohort, count: int) -> list[Membership]:  # type: ignore[no-untyped-def]
    password = make_password(None)
    users = User.objects.bulk_create(
        User(email=f"live-crowd{i}@example.com", name=f"Crowd {i:03d}", password=password) for i in range(count)
    )
    return Membership.objects.bulk_create(Membership(user=u, cohort=cohort, role=Role.LEARNER) for u in users)


def _busy(session: OfficeHoursSession, crowd: list[Membership]) -> None:
    """RSVPs, check-ins and help requests from the whole crowd."""
    SessionRSVP.objects.bulk_create(SessionRSVP(session=session, membership=m) for m in crowd)
    SessionAttendance.objects.bulk_create(SessionAttendance(session=session, membership=m) for m in crowd[::2])
    HelpRequest.objects.bulk_create(
        HelpRequest(session=session, membership=m, description=f"Help {i}", capsule_error_log="x" * 500)
        for i, m in enumerate(crowd[:40])
    )


@pytest.mark.parametrize("crowd_size", [pytest.param(0, id="empty"), pytest.param(120, id="120-members")])
@pytest.mark.parametrize("viewer", ["alice", "lead"])
def test_session_page_query_count_stays_constant_with_the_panels(
    world, live, viewer, crowd_size, django_assert_num_queries
):
    _busy(live, _crowd(world.cohort, crowd_size))
    client = world.client_for(getattr(world, viewer))

    # The RSVP panel is one query in the page; the queue and roster are placeholders filled after load.
    # While live, one more: the session's open experiments (the "Run the lead's experiment" card).
    with django_assert_num_queries(SESSION_PAGE_QUERIES + 1):
        response = client.get(cohort_url("session", "cohort-a", 1))
    assert response.status_code == 200

    # Warm, the open-experiment cards come from the cache as well (inference.templatetags.experiments).
    with django_assert_num_queries(SESSION_PAGE_WARM_QUERIES):
        assert client.get(cohort_url("session", "cohort-a", 1)).status_code == 200


def test_session_page_shows_the_rsvp_panel_without_a_second_request(world, live):
    SessionRSVP.objects.create(session=live, membership=world.bob_membership)

    page = world.client_for(world.alice).get(cohort_url("session", "cohort-a", 1)).content.decode()

    assert 'id="rsvp-panel"' in page and "Loading" not in page.split('id="rsvp-panel"')[1][:400]
    assert cohort_url("session_rsvp", "cohort-a", 1) in page
    assert "<strong>1</strong>" in page


# Session, user, membership, the office-hours session, then one query for the panel.
PANEL_QUERIES = 5


@pytest.mark.parametrize("crowd_size", [pytest.param(3, id="3-members"), pytest.param(120, id="120-members")])
@pytest.mark.parametrize(
    ("viewer", "name"),
    [("alice", "session_rsvp_panel"), ("lead", "session_rsvp_panel"), ("lead", "session_attendance")],
)
def test_panel_endpoints_query_count_is_constant(world, live, viewer, name, crowd_size, django_assert_num_queries):
    _busy(live, _crowd(world.cohort, crowd_size))
    client = world.client_for(getattr(world, viewer))

    with django_assert_num_queries(PANEL_QUERIES):
        response = client.get(cohort_url(name, "cohort-a", 1), **HTMX)

    assert response.status_code == 200


def test_live_page_renders_every_panel_without_javascript(world, live):
    services.help_request_join(session=live, membership=world.bob_membership, description="Bob's build")
    lead = world.client_for(world.lead).get(cohort_url("session_live", "cohort-a", 1)).content.decode()
    alice = world.client_for(world.alice).get(cohort_url("session_live", "cohort-a", 1)).content.decode()

    for html in (lead, alice):
        assert 'id="rsvp-panel"' in html and 'id="help-queue"' in html
    assert 'id="attendance-roster"' in lead and "Bob&#x27;s build" in lead
    assert 'id="attendance-roster"' not in alice and "Bob&#x27;s build" not in alice
    assert "1 person is waiting." in alice
    assert 'name="description"' in alice  # the join form, posting without htmx too
    assert f'action="{cohort_url("help_queue_join", "cohort-a", 1)}"' in alice


def test_rsvp_panel_without_htmx_redirects_to_the_live_page(world, live):
    response = world.client_for(world.alice).get(cohort_url("session_rsvp_panel", "cohort-a", 1))

    assert response.status_code == 302
    assert response.url == cohort_url("session_live", "cohort-a", 1) + "#rsvp-panel"
