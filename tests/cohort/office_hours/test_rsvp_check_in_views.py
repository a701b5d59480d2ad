"""The live session's endpoints: who may see and do what (anonymous / learner / outsider / lead), RSVP and check-in; htmx and plain."""

from __future__ import annotations

from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from cohort.models import (
    HelpRequest,
    Membership,
    OfficeHoursSession,
    Role,
    SessionAttendance,
    SessionRSVP,
    SessionStatus,
)
from tests.cohort.office_hours.conftest import CODE
from tests.factories import MembershipFactory
from tests.helpers import HTMX, cohort_url

pytestmark = pytest.mark.django_db

LOGIN_URL = reverse("account_login")


def _text(response) -> str:  # type: ignore[no-untyped-def]
    """The page as a reader sees it: entities such as &#x27; turned back into characters."""
    return unescape(response.content.decode())


def _state() -> tuple:
    return (
        list(SessionRSVP.objects.order_by("pk").values()),
        list(SessionAttendance.objects.order_by("pk").values()),
        list(HelpRequest.objects.order_by("pk").values()),
    )


def _member_gets() -> list[str]:
    return [
        cohort_url("session_live", "cohort-a", 1),
        cohort_url("my_attendance", "cohort-a"),
    ]


def _member_htmx_gets() -> list[str]:
    return [cohort_url("session_rsvp_panel", "cohort-a", 1), cohort_url("help_queue", "cohort-a", 1)]


def _member_posts(world) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    return [
        (cohort_url("session_rsvp", "cohort-a", 1), {}),
        (cohort_url("session_check_in", "cohort-a", 1), {"code": CODE}),
        (cohort_url("help_queue_join", "cohort-a", 1), {"description": "Stuck"}),
        (cohort_url("help_queue_leave", "cohort-a", 1), {}),
    ]


def _lead_gets(world) -> list[str]:  # type: ignore[no-untyped-def]
    return [cohort_url("member_attendance", "cohort-a", world.alice_membership.pk)]


def _lead_posts(world) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    return [(cohort_url("session_attendance_mark", "cohort-a", 1), {"membership": world.bob_membership.pk})]


# --- Who may see and do what --------------------------------------------------------------


def test_anonymous_is_sent_to_login_and_changes_nothing(world, live):
    client = Client()
    before = _state()

    for url in [*_member_gets(), *_lead_gets(world)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(f"{LOGIN_URL}?next="), url
    for url, data in [*_member_posts(world), *_lead_posts(world)]:
        assert client.post(url, data).status_code == 302, url
    for url in [*_member_htmx_gets(), cohort_url("session_attendance", "cohort-a", 1)]:
        response = client.get(url, **HTMX)
        assert (response.status_code, response["HX-Refresh"]) == (204, "true"), url
    assert _state() == before


def test_outsider_gets_404_everywhere_and_changes_nothing(world, live):
    client = world.client_for(world.outsider)
    before = _state()

    for url in [*_member_gets(), *_lead_gets(world)]:
        assert client.get(url).status_code == 404, url
    for url in [*_member_htmx_gets(), cohort_url("session_attendance", "cohort-a", 1)]:
        assert client.get(url, **HTMX).status_code == 404, url
    for url, data in [*_member_posts(world), *_lead_posts(world)]:
        assert client.post(url, data, **HTMX).status_code == 404, url
    assert _state() == before


def test_learner_gets_403_on_lead_actions_and_changes_nothing(world, live):
    client = world.client_for(world.alice)
    before = _state()

    for url in _lead_gets(world):
        assert client.get(url).status_code == 403, url
    assert client.get(cohort_url("session_attendance", "cohort-a", 1), **HTMX).status_code == 403
    for url, data in _lead_posts(world):
        assert client.post(url, data, **HTMX).status_code == 403, url
    assert _state() == before


def test_another_cohorts_session_is_not_found_through_ours(world, live):
    lead, alice = world.client_for(world.lead), world.client_for(world.alice)
    before = _state()

    assert alice.post(cohort_url("session_rsvp", "cohort-a", 5), **HTMX).status_code == 404
    assert alice.post(cohort_url("session_check_in", "cohort-a", 5), {"code": "OTHER5"}, **HTMX).status_code == 404
    assert alice.post(cohort_url("session_check_in", "cohort-b", 5), {"code": "OTHER5"}, **HTMX).status_code == 404
    assert alice.get(cohort_url("session_live", "cohort-a", 5)).status_code == 404
    assert lead.get(cohort_url("session_attendance", "cohort-a", 5), **HTMX).status_code == 404
    assert (
        lead.post(
            cohort_url("session_attendance_mark", "cohort-a", 5), {"membership": world.bob_membership.pk}
        ).status_code
        == 404
    )
    assert _state() == before


def test_lead_cannot_see_or_mark_another_cohorts_member(world, live):
    lead = world.client_for(world.lead)
    outsider = Membership.objects.get(user=world.outsider)

    assert lead.get(cohort_url("member_attendance", "cohort-a", outsider.pk)).status_code == 404
    assert lead.get(cohort_url("member_attendance", "cohort-b", outsider.pk)).status_code == 404
    response = lead.post(cohort_url("session_attendance_mark", "cohort-a", 1), {"membership": outsider.pk}, **HTMX)

    assert response.status_code == 400
    assert "Pick a learner of this cohort." in response.content.decode()
    assert not SessionAttendance.objects.exists()


def test_writes_are_post_only(world, live):
    alice = world.client_for(world.alice)

    for url, _data in [*_member_posts(world)]:
        assert alice.get(url).status_code == 405, url
    assert world.client_for(world.lead).get(cohort_url("session_attendance_mark", "cohort-a", 1)).status_code == 405


def test_check_in_without_csrf_token_is_403(world, live):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.alice)

    response = client.post(cohort_url("session_check_in", "cohort-a", 1), {"code": CODE})

    assert response.status_code == 403
    assert not SessionAttendance.objects.exists()


# --- RSVP ---------------------------------------------------------------------------------


def test_rsvp_and_cancel_through_htmx(world, live):
    client = world.client_for(world.alice)
    SessionRSVP.objects.create(session=live, membership=world.bob_membership)

    going = client.post(cohort_url("session_rsvp", "cohort-a", 1), **HTMX)
    again = client.post(cohort_url("session_rsvp", "cohort-a", 1), **HTMX)
    rsvps_after_two = SessionRSVP.objects.count()
    cancelled = client.post(cohort_url("session_rsvp", "cohort-a", 1), {"cancel": "1"}, **HTMX)

    assert going.status_code == again.status_code == cancelled.status_code == 200
    assert going.content.decode().lstrip().startswith('<section id="rsvp-panel"')
    assert "<strong>2</strong> going, you included" in going.content.decode()
    assert "already RSVP'd" in _text(again)
    assert rsvps_after_two == 2
    assert "RSVP cancelled." in cancelled.content.decode()
    assert list(SessionRSVP.objects.values_list("membership_id", flat=True)) == [world.bob_membership.pk]


def test_rsvp_plain_post_redirects_to_the_live_page_with_a_message(world, live):
    client = world.client_for(world.alice)

    response = client.post(cohort_url("session_rsvp", "cohort-a", 1), follow=True)

    assert response.redirect_chain == [(cohort_url("session_live", "cohort-a", 1) + "#rsvp-panel", 302)]
    assert "You're going" in _text(response)
    assert SessionRSVP.objects.filter(membership=world.alice_membership).exists()


def test_rsvp_on_an_ended_session_is_400_with_the_message(world, live):
    OfficeHoursSession.objects.filter(pk=live.pk).update(status=SessionStatus.ENDED)

    response = world.client_for(world.alice).post(cohort_url("session_rsvp", "cohort-a", 1), **HTMX)

    assert response.status_code == 400
    assert "takes no more RSVPs" in response.content.decode()
    assert not SessionRSVP.objects.exists()


# --- Check-in -----------------------------------------------------------------------------


def test_check_in_with_the_code(world, live):
    response = world.client_for(world.alice).post(
        cohort_url("session_check_in", "cohort-a", 1), {"code": " h4rb9t "}, **HTMX
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "You're checked in." in _text(response)
    assert "Checked in</span> at" in page
    assert 'name="code"' not in page
    assert SessionAttendance.objects.get().membership == world.alice_membership


def test_check_in_twice_says_so_and_changes_nothing(world, live):
    client = world.client_for(world.alice)
    client.post(cohort_url("session_check_in", "cohort-a", 1), {"code": CODE}, **HTMX)
    before = _state()

    response = client.post(cohort_url("session_check_in", "cohort-a", 1), {"code": CODE}, **HTMX)

    assert response.status_code == 200
    assert "already checked in" in response.content.decode()
    assert _state() == before


@pytest.mark.parametrize(
    ("code", "message"),
    [("WRONG1", "not this session&#x27;s code"), ("", "Type the code your lead shows"), ("X" * 21, "at most 20")],
    ids=["wrong", "empty", "oversized"],
)
def test_check_in_with_a_bad_code_is_400_with_a_field_error(world, live, code, message):
    response = world.client_for(world.alice).post(cohort_url("session_check_in", "cohort-a", 1), {"code": code}, **HTMX)

    html = response.content.decode()
    assert response.status_code == 400
    assert message in html
    assert '<p class="error" role="alert">' in html
    assert 'name="code"' in html  # the form is still there to try again
    assert not SessionAttendance.objects.exists()


def test_check_in_with_a_wrong_code_plain_post_redirects_with_the_error(world, live):
    response = world.client_for(world.alice).post(
        cohort_url("session_check_in", "cohort-a", 1), {"code": "NOPE"}, follow=True
    )

    assert response.redirect_chain[-1][1] == 302
    assert "not this session&#x27;s code" in response.content.decode()
    assert not SessionAttendance.objects.exists()


@pytest.mark.parametrize("status", [SessionStatus.SCHEDULED, SessionStatus.ENDED])
def test_check_in_when_not_live_is_refused_with_a_message(world, live, status):
    OfficeHoursSession.objects.filter(pk=live.pk).update(status=status)

    response = world.client_for(world.alice).post(cohort_url("session_check_in", "cohort-a", 1), {"code": CODE}, **HTMX)

    assert response.status_code == 400
    assert ("opens when the lead starts" if status == "scheduled" else "has ended") in response.content.decode()
    assert not SessionAttendance.objects.exists()


def test_only_leads_see_the_check_in_code(world, live):
    mentor = MembershipFactory(cohort=world.cohort, role=Role.MENTOR).user
    pages = {}
    for name in ("lead", "alice"):
        client = world.client_for(getattr(world, name))
        pages[name] = [
            client.get(cohort_url("session_rsvp_panel", "cohort-a", 1), **HTMX).content.decode(),
            client.get(cohort_url("session_live", "cohort-a", 1)).content.decode(),
            client.get(cohort_url("session", "cohort-a", 1)).content.decode(),
        ]
    mentor_panel = (
        world.client_for(mentor).get(cohort_url("session_rsvp_panel", "cohort-a", 1), **HTMX).content.decode()
    )

    assert CODE in pages["lead"][0] and CODE in pages["lead"][1]
    assert not any(CODE in html for html in pages["alice"])
    assert CODE not in mentor_panel
    assert 'name="code"' in pages["alice"][0]


def test_code_disappears_once_the_session_ends(world, live):
    OfficeHoursSession.objects.filter(pk=live.pk).update(status=SessionStatus.ENDED)

    html = world.client_for(world.lead).get(cohort_url("session_rsvp_panel", "cohort-a", 1), **HTMX).content.decode()

    assert CODE not in html
