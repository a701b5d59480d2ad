"""Lead pages: rotating the invite code, the overview, the roster upload; learners, mentors and outsiders refused."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cohort.models import Invitation, Membership, Role, User
from tests.factories import CohortFactory, MembershipFactory, UserFactory
from tests.helpers import _client, cohort_url

pytestmark = pytest.mark.django_db


def _csv(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("roster.csv", text.encode(), content_type="text/csv")


# --- Rotate invite code --------------------------------------------------------------


def test_rotate_invite_lead_post_replaces_code_and_old_code_stops_working(world):
    old_code = world.cohort.invite_code
    newcomer = UserFactory()

    response = world.client_for(world.lead).post(cohort_url("lead_rotate_invite", "cohort-a"))

    assert response.status_code == 302
    assert response.url == cohort_url("lead_overview", "cohort-a")
    world.cohort.refresh_from_db()
    assert world.cohort.invite_code != old_code
    newcomer_client = _client(newcomer)
    assert newcomer_client.post(cohort_url("join"), {"invite_code": old_code}).status_code == 400
    assert newcomer_client.post(cohort_url("join_link", old_code)).status_code == 400
    assert "does not work" in newcomer_client.get(cohort_url("join_link", old_code)).content.decode()
    assert newcomer_client.post(cohort_url("join"), {"invite_code": world.cohort.invite_code}).status_code == 302
    assert Membership.objects.filter(user=newcomer, cohort=world.cohort).exists()


def test_rotate_invite_get_not_allowed(world):
    old_code = world.cohort.invite_code

    response = world.client_for(world.lead).get(cohort_url("lead_rotate_invite", "cohort-a"))

    assert response.status_code == 405
    world.cohort.refresh_from_db()
    assert world.cohort.invite_code == old_code


def test_rotate_invite_learner_gets_403(world):
    old_code = world.cohort.invite_code

    response = world.client_for(world.alice).post(cohort_url("lead_rotate_invite", "cohort-a"))

    assert response.status_code == 403
    world.cohort.refresh_from_db()
    assert world.cohort.invite_code == old_code


def test_rotate_invite_mentor_gets_403(world):
    mentor = MembershipFactory(cohort=world.cohort, role=Role.MENTOR).user

    response = world.client_for(mentor).post(cohort_url("lead_rotate_invite", "cohort-a"))

    assert response.status_code == 403


def test_rotate_invite_outsider_gets_404(world):
    old_code = world.cohort.invite_code

    response = world.client_for(world.outsider).post(cohort_url("lead_rotate_invite", "cohort-a"))

    assert response.status_code == 404
    world.cohort.refresh_from_db()
    assert world.cohort.invite_code == old_code


# --- Lead overview -------------------------------------------------------------------


def test_lead_overview_lead_gets_200_with_learners(world):
    response = world.client_for(world.lead).get(cohort_url("lead_overview", "cohort-a"))

    assert response.status_code == 200
    assert [r.membership.user for r in response.context["overview"].rows] == [world.alice, world.bob]
    assert world.cohort.invite_code in response.content.decode()


def test_lead_overview_mentor_gets_200_without_invite_controls(world):
    mentor = MembershipFactory(cohort=world.cohort, role=Role.MENTOR).user

    response = world.client_for(mentor).get(cohort_url("lead_overview", "cohort-a"))

    assert response.status_code == 200
    assert world.cohort.invite_code not in response.content.decode()


def test_lead_overview_learner_gets_403(world):
    response = world.client_for(world.alice).get(cohort_url("lead_overview", "cohort-a"))

    assert response.status_code == 403


def test_lead_overview_outsider_gets_404(world):
    response = world.client_for(world.outsider).get(cohort_url("lead_overview", "cohort-a"))

    assert response.status_code == 404


def test_lead_overview_search_and_sort_from_query_string(world):
    response = world.client_for(world.lead).get(cohort_url("lead_overview", "cohort-a"), {"q": "bob", "sort": "bogus"})

    assert [r.membership.user for r in response.context["overview"].rows] == [world.bob]
    assert response.context["sort"] == "name"


def test_lead_overview_htmx_returns_table_fragment(world):
    response = world.client_for(world.lead).get(cohort_url("lead_overview", "cohort-a"), headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    assert 'class="matrix"' in response.content.decode()


# --- Roster upload -------------------------------------------------------------------


def test_roster_get_lead_gets_form(world):
    response = world.client_for(world.lead).get(cohort_url("lead_roster", "cohort-a"))

    assert response.status_code == 200
    assert 'type="file"' in response.content.decode()


def test_roster_post_good_file_imports_and_redirects(world):
    existing = UserFactory(email="existing@example.com")
    upload = _csv(
        "email,name,github_username,role\n"
        "existing@example.com,Existing,,learner\n"
        "new@example.com,New Person,new-person,mentor\n"
        "alice@example.com,Alice,,mentor\n"
    )

    response = world.client_for(world.lead).post(cohort_url("lead_roster", "cohort-a"), {"file": upload})

    assert response.status_code == 302
    assert response.url == cohort_url("lead_overview", "cohort-a")
    # An existing account is invited like a new address: nobody is added without consent.
    assert not Membership.objects.filter(user=existing, cohort=world.cohort).exists()
    assert Membership.objects.get(user=world.alice, cohort=world.cohort).role == Role.MENTOR
    invitations = Invitation.objects.filter(cohort=world.cohort).order_by("email")
    assert [(i.email, i.role, i.invited_by) for i in invitations] == [
        ("existing@example.com", Role.LEARNER, world.lead),
        ("new@example.com", Role.MENTOR, world.lead),
    ]
    assert not User.objects.filter(email="new@example.com").exists()


def test_roster_post_bad_rows_returns_400_with_line_numbers_and_imports_nothing(world):
    existing = UserFactory(email="existing@example.com")
    upload = _csv("email,role\nexisting@example.com,learner\nnot-an-email,learner\nnew@example.com,boss\n")

    response = world.client_for(world.lead).post(cohort_url("lead_roster", "cohort-a"), {"file": upload})

    assert response.status_code == 400
    body = response.content.decode()
    assert "Nothing was imported" in body
    assert "Line 3: “not-an-email” is not a valid email address." in body
    assert "Line 4: Role “boss” is not one of learner, mentor, lead." in body
    assert not Membership.objects.filter(user=existing).exists()
    assert not Invitation.objects.exists()


def test_roster_post_without_file_returns_400(world):
    response = world.client_for(world.lead).post(cohort_url("lead_roster", "cohort-a"), {"file": ""})

    assert response.status_code == 400
    assert response.context["form"].errors["file"]


def test_roster_learner_gets_403_and_nothing_imported(world):
    client = world.client_for(world.alice)

    get_response = client.get(cohort_url("lead_roster", "cohort-a"))
    post_response = client.post(cohort_url("lead_roster", "cohort-a"), {"file": _csv("email\nnew@example.com\n")})

    assert get_response.status_code == 403
    assert post_response.status_code == 403
    assert not Invitation.objects.exists()


def test_roster_mentor_gets_403(world):
    mentor = MembershipFactory(cohort=world.cohort, role=Role.MENTOR).user

    response = world.client_for(mentor).post(
        cohort_url("lead_roster", "cohort-a"), {"file": _csv("email\nnew@example.com\n")}
    )

    assert response.status_code == 403
    assert not Invitation.objects.exists()


def test_roster_outsider_gets_404(world):
    response = world.client_for(world.outsider).post(
        cohort_url("lead_roster", "cohort-a"), {"file": _csv("email\nnew@example.com\n")}
    )

    assert response.status_code == 404
    assert not Invitation.objects.exists()


def test_roster_lead_of_another_cohort_gets_404(world):
    other_lead = MembershipFactory(cohort=CohortFactory(), role=Role.LEAD).user

    response = world.client_for(other_lead).post(
        cohort_url("lead_roster", "cohort-a"), {"file": _csv("email\nnew@example.com\n")}
    )

    assert response.status_code == 404
    assert not Invitation.objects.exists()
