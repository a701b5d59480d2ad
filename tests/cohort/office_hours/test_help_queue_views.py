"""The live help queue's endpoints: who may do what, joining and leaving, what each viewer sees."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from cohort.models import HelpRequest, HelpRequestStatus, Membership, Role, SessionStatus
from cohort.office_hours import live_services as services
from tests.factories import MembershipFactory, SessionFactory, UserFactory
from tests.helpers import HTMX, SHA, _join, _live, _rows, cohort_url

pytestmark = pytest.mark.django_db


# --- Views: who may do what -------------------------------------------------------------


def test_queue_endpoints_for_another_cohorts_session_are_404(world):
    outsider_m = Membership.objects.get(user=world.outsider)
    foreign = SessionFactory(cohort=outsider_m.cohort, number=4, status=SessionStatus.LIVE)
    foreign_request = HelpRequest.objects.create(session=foreign, membership=outsider_m, description="theirs")
    _live(world)
    lead, alice = world.client_for(world.lead), world.client_for(world.alice)
    before = _rows()

    assert alice.get(cohort_url("help_queue", "cohort-a", 4), **HTMX).status_code == 404
    assert alice.post(cohort_url("help_queue_join", "cohort-a", 4), {"description": "x"}).status_code == 404
    assert alice.post(cohort_url("help_queue_join", "cohort-b", 4), {"description": "x"}).status_code == 404
    assert lead.post(cohort_url("help_request_take", "cohort-a", 1, foreign_request.pk)).status_code == 404
    assert lead.post(cohort_url("help_request_take", "cohort-b", 4, foreign_request.pk)).status_code == 404
    assert lead.post(cohort_url("help_request_finish", "cohort-a", 1, foreign_request.pk)).status_code == 404
    assert world.client_for(world.outsider).get(cohort_url("help_queue", "cohort-a", 1), **HTMX).status_code == 404
    assert _rows() == before


def test_learner_calling_lead_actions_gets_403(world):
    session = _live(world)
    request, _ = _join(session, world.bob_membership)
    alice = world.client_for(world.alice)
    before = _rows()

    assert alice.post(cohort_url("help_request_take", "cohort-a", 1, request.pk), **HTMX).status_code == 403
    assert alice.post(cohort_url("help_request_finish", "cohort-a", 1, request.pk), **HTMX).status_code == 403
    assert _rows() == before


def test_mentor_can_take_and_finish(world):
    session = _live(world)
    mentor = MembershipFactory(cohort=world.cohort, role=Role.MENTOR, user=UserFactory(name="Mina"))
    request, _ = _join(session, world.alice_membership)
    client = world.client_for(mentor.user)

    taken = client.post(cohort_url("help_request_take", "cohort-a", 1, request.pk), **HTMX)
    done = client.post(cohort_url("help_request_finish", "cohort-a", 1, request.pk), **HTMX)

    request.refresh_from_db()
    assert (taken.status_code, done.status_code) == (200, 200)
    assert (request.status, request.helped_by) == (HelpRequestStatus.DONE, mentor.user)


def test_anonymous_htmx_poll_reloads_the_page_and_plain_requests_go_to_login(world):
    _live(world)
    client = world.client_for(None)

    poll = client.get(cohort_url("help_queue", "cohort-a", 1) + "?m=join&v=x", **HTMX)
    plain = client.post(cohort_url("help_queue_join", "cohort-a", 1), {"description": "x"})

    assert (poll.status_code, poll["HX-Refresh"]) == (204, "true")
    assert plain.status_code == 302 and plain.url.startswith(reverse("account_login"))
    assert not HelpRequest.objects.exists()


def test_queue_writes_are_post_only(world):
    session = _live(world)
    request, _ = _join(session, world.alice_membership)
    lead = world.client_for(world.lead)

    assert world.client_for(world.bob).get(cohort_url("help_queue_join", "cohort-a", 1)).status_code == 405
    assert world.client_for(world.alice).get(cohort_url("help_queue_leave", "cohort-a", 1)).status_code == 405
    assert lead.get(cohort_url("help_request_take", "cohort-a", 1, request.pk)).status_code == 405


def test_queue_post_without_csrf_token_is_403(world):
    _live(world)
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.alice)

    response = client.post(cohort_url("help_queue_join", "cohort-a", 1), {"description": "Help"}, **HTMX)

    assert response.status_code == 403
    assert not HelpRequest.objects.exists()


# --- Views: joining and leaving ---------------------------------------------------------


def test_join_htmx_returns_the_panel_with_the_position(world):
    session = _live(world)
    _join(session, world.bob_membership)

    response = world.client_for(world.alice).post(
        cohort_url("help_queue_join", "cohort-a", 1),
        {"description": "CMake cannot find a compiler", "capsule_os": "Windows 11", "capsule_model_sha256": SHA},
        **HTMX,
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="help-queue"')
    assert "You joined the queue." in html
    assert "You are number 2 in the queue" in html
    assert "CMake cannot find a compiler" in html
    assert "My build fails" not in html  # bob's description
    assert HelpRequest.objects.get(membership=world.alice_membership).capsule_os == "Windows 11"


def test_join_twice_through_the_view_says_so(world):
    _live(world)
    client = world.client_for(world.alice)
    client.post(cohort_url("help_queue_join", "cohort-a", 1), {"description": "first"}, **HTMX)

    response = client.post(cohort_url("help_queue_join", "cohort-a", 1), {"description": "second"}, **HTMX)

    assert response.status_code == 200
    assert "already in the queue" in response.content.decode()
    assert list(HelpRequest.objects.values_list("description", flat=True)) == ["first"]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"description": ""}, "Say in a sentence what you are stuck on."),
        ({"description": "x" * 501}, "at most 500 characters"),
        ({"description": "ok", "capsule_model_sha256": "xyz"}, "64 hexadecimal characters"),
        ({"description": "ok", "capsule_error_log": "e" * 20_001}, "at most 20000 characters"),
    ],
    ids=["empty", "oversized", "bad-sha", "oversized-log"],
)
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_join_with_invalid_input_is_400_with_the_field_error(world, data, error, headers):
    _live(world)

    response = world.client_for(world.alice).post(cohort_url("help_queue_join", "cohort-a", 1), data, **headers)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert not HelpRequest.objects.exists()


def test_join_when_not_live_is_400_with_the_message(world):
    SessionFactory(cohort=world.cohort, number=1)

    response = world.client_for(world.alice).post(
        cohort_url("help_queue_join", "cohort-a", 1), {"description": "x"}, **HTMX
    )

    assert response.status_code == 400
    assert "opens when the lead starts the session" in response.content.decode()
    assert not HelpRequest.objects.exists()


def test_join_plain_post_redirects_to_the_live_page(world):
    _live(world)

    response = world.client_for(world.alice).post(cohort_url("help_queue_join", "cohort-a", 1), {"description": "Help"})

    assert response.status_code == 302
    assert response.url == cohort_url("session_live", "cohort-a", 1) + "#help-queue"
    assert HelpRequest.objects.filter(membership=world.alice_membership).exists()


def test_leave_through_the_view(world):
    session = _live(world)
    _join(session, world.alice_membership)

    response = world.client_for(world.alice).post(cohort_url("help_queue_leave", "cohort-a", 1), **HTMX)

    assert response.status_code == 200
    assert "You left the queue." in response.content.decode()
    assert HelpRequest.objects.get().status == HelpRequestStatus.LEFT


def test_lead_take_of_a_request_someone_else_took_is_400_with_a_message(world):
    session = _live(world)
    request, _ = _join(session, world.alice_membership)
    mentor = MembershipFactory(cohort=world.cohort, role=Role.MENTOR).user
    services.help_request_take(session=session, request=request, helper=mentor)

    response = world.client_for(world.lead).post(cohort_url("help_request_take", "cohort-a", 1, request.pk), **HTMX)

    assert response.status_code == 400
    assert "Someone is already helping this learner." in response.content.decode()
    request.refresh_from_db()
    assert request.helped_by == mentor


# --- Views: what each viewer sees -------------------------------------------------------


def test_capsule_is_escaped_and_the_log_preformatted_for_leads(world):
    session = _live(world)
    _join(
        session,
        world.alice_membership,
        "<script>alert('d')</script> fails",
        command="<img src=x onerror=alert(1)>",
        error_log="<b>bold</b>\n  indented",
    )

    html = world.client_for(world.lead).get(cohort_url("help_queue", "cohort-a", 1), **HTMX).content.decode()

    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;d&#x27;)&lt;/script&gt; fails" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert '<pre class="error-log">&lt;b&gt;bold&lt;/b&gt;\n  indented</pre>' in html


def test_other_learners_see_only_the_queue_length(world):
    session = _live(world)
    _join(session, world.alice_membership, "Alice's private problem", error_log="alice-secret-log")

    bob_panel = world.client_for(world.bob).get(cohort_url("help_queue", "cohort-a", 1), **HTMX).content.decode()
    lead_panel = world.client_for(world.lead).get(cohort_url("help_queue", "cohort-a", 1), **HTMX).content.decode()

    assert "private problem" not in bob_panel and "alice-secret-log" not in bob_panel and "Alice" not in bob_panel
    assert "1 person is waiting." in bob_panel
    assert "Alice&#x27;s private problem" in lead_panel and "alice-secret-log" in lead_panel


def test_lead_toggle_first_time_askers_first(world):
    session = _live(world)
    earlier = SessionFactory(cohort=world.cohort, number=2, status=SessionStatus.ENDED)
    HelpRequest.objects.create(session=earlier, membership=world.alice_membership, description="old", status="done")
    _join(session, world.alice_membership, "returning asker")
    _join(session, world.bob_membership, "new asker")
    client = world.client_for(world.lead)

    plain = client.get(cohort_url("help_queue", "cohort-a", 1), **HTMX).content.decode()
    first = client.get(cohort_url("help_queue", "cohort-a", 1) + "?first=1", **HTMX).content.decode()

    assert plain.index("returning asker") < plain.index("new asker")
    assert first.index("new asker") < first.index("returning asker")
    assert '<input type="hidden" name="first" value="1" data-live-key>' in first  # the poll keeps the chosen order
