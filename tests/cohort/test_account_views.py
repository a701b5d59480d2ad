"""Cohort pages for anyone signed out or without a place yet: sign-in redirects, home, joining by code or link, the profile, CSRF."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from cohort.models import Cohort, Membership, Role, StepProgress, User
from tests.factories import UserFactory
from tests.helpers import _client, cohort_url

pytestmark = pytest.mark.django_db

LOGIN_URL = reverse("account_login")


def _assert_login_redirect(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 302
    assert response.url.startswith(f"{LOGIN_URL}?next=")


# --- Anonymous visitors --------------------------------------------------------------

# An invite link opened signed out shows the cohort and leads to sign-up (tests/cohort/test_join_and_timezone.py).
GET_PAGES = [
    ("join", ()),
    ("profile", ()),
    ("dashboard", ("cohort-a",)),
    ("step", ("cohort-a", "step-1")),
    ("lead_overview", ("cohort-a",)),
    ("lead_roster", ("cohort-a",)),
]
POST_ACTIONS = [
    ("join", ()),
    ("join_link", ("ANYCODE123",)),
    ("profile", ()),
    ("step_focus", ("cohort-a", "step-1")),
    ("lead_roster", ("cohort-a",)),
    ("lead_rotate_invite", ("cohort-a",)),
]


@pytest.mark.parametrize(("name", "args"), GET_PAGES, ids=[p[0] for p in GET_PAGES])
def test_page_anonymous_get_redirects_to_login(world, name, args):
    response = Client().get(cohort_url(name, *args))

    _assert_login_redirect(response)


@pytest.mark.parametrize(("name", "args"), POST_ACTIONS, ids=[p[0] for p in POST_ACTIONS])
def test_action_anonymous_post_redirects_to_login_and_changes_nothing(world, name, args):
    code_before = world.cohort.invite_code

    response = Client().post(cohort_url(name, *args))

    _assert_login_redirect(response)
    world.cohort.refresh_from_db()
    assert world.cohort.invite_code == code_before
    assert not StepProgress.objects.exists()


# --- Home --------------------------------------------------------------------------


def test_home_anonymous_shows_landing_page(world):
    response = Client().get(cohort_url("home"))

    assert response.status_code == 200
    assert reverse("account_signup") in response.content.decode()
    assert "cohort/landing.html" in [t.name for t in response.templates]


def test_home_learner_shows_own_cohort_dashboard(world):
    response = world.client_for(world.alice).get(cohort_url("home"))

    assert response.status_code == 200
    assert response.context["membership"] == world.alice_membership


def test_home_lead_shows_cohort_dashboard(world):
    response = world.client_for(world.lead).get(cohort_url("home"))

    assert response.status_code == 200
    assert response.context["cohort"] == world.cohort


def test_home_user_without_cohort_redirects_to_join(db):
    user = UserFactory()

    response = _client(user).get(cohort_url("home"))

    assert response.status_code == 302
    assert response.url == cohort_url("join")


# --- Join by code --------------------------------------------------------------------


def test_join_get_shows_form(world):
    response = world.client_for(world.outsider).get(cohort_url("join"))

    assert response.status_code == 200
    assert 'name="invite_code"' in response.content.decode()


def test_join_valid_code_creates_learner_membership(world):
    client = world.client_for(world.outsider)

    response = client.post(cohort_url("join"), {"invite_code": world.cohort.invite_code.lower()})

    assert response.status_code == 302
    assert response.url == cohort_url("dashboard", "cohort-a")
    membership = Membership.objects.get(user=world.outsider, cohort=world.cohort)
    assert membership.role == Role.LEARNER


def test_join_invalid_code_returns_400_with_form_error(world):
    response = world.client_for(world.outsider).post(cohort_url("join"), {"invite_code": "NOPE000000"})

    assert response.status_code == 400
    assert "does not match any cohort" in response.context["form"].errors["invite_code"][0]
    assert not Membership.objects.filter(user=world.outsider, cohort=world.cohort).exists()


def test_join_empty_code_returns_200_with_required_error(world):
    response = world.client_for(world.outsider).post(cohort_url("join"), {"invite_code": ""})

    assert response.context["form"].errors["invite_code"]
    assert not Membership.objects.filter(user=world.outsider, cohort=world.cohort).exists()


def test_join_closed_invites_returns_400_and_no_membership(world):
    Cohort.objects.filter(pk=world.cohort.pk).update(invites_open=False)

    response = world.client_for(world.outsider).post(cohort_url("join"), {"invite_code": world.cohort.invite_code})

    assert response.status_code == 400
    assert "not taking new members" in response.context["form"].errors["invite_code"][0]
    assert not Membership.objects.filter(user=world.outsider, cohort=world.cohort).exists()


def test_join_existing_member_keeps_one_membership_and_role(world):
    client = world.client_for(world.lead)

    response = client.post(cohort_url("join"), {"invite_code": world.cohort.invite_code})

    assert response.status_code == 302
    memberships = Membership.objects.filter(user=world.lead, cohort=world.cohort)
    assert [m.role for m in memberships] == [Role.LEAD]


# --- Join by link --------------------------------------------------------------------


def test_join_link_get_shows_cohort(world):
    response = world.client_for(world.outsider).get(cohort_url("join_link", world.cohort.invite_code))

    assert response.status_code == 200
    assert "Join Cohort A" in response.content.decode()
    assert not Membership.objects.filter(user=world.outsider, cohort=world.cohort).exists()


def test_join_link_get_unknown_code_says_link_does_not_work(world):
    response = world.client_for(world.outsider).get(cohort_url("join_link", "UNKNOWN123"))

    assert response.status_code == 200
    assert "This invite link does not work" in response.content.decode()


def test_join_link_get_closed_invites_says_link_does_not_work(world):
    Cohort.objects.filter(pk=world.cohort.pk).update(invites_open=False)

    response = world.client_for(world.outsider).get(cohort_url("join_link", world.cohort.invite_code))

    assert "This invite link does not work" in response.content.decode()


def test_join_link_post_creates_membership(world):
    response = world.client_for(world.outsider).post(cohort_url("join_link", world.cohort.invite_code))

    assert response.status_code == 302
    assert response.url == cohort_url("dashboard", "cohort-a")
    assert Membership.objects.filter(user=world.outsider, cohort=world.cohort, role=Role.LEARNER).exists()


def test_join_link_post_unknown_code_returns_400(world):
    response = world.client_for(world.outsider).post(cohort_url("join_link", "UNKNOWN123"))

    assert response.status_code == 400
    assert "does not match any cohort" in response.content.decode()


def test_join_link_post_closed_invites_returns_400(world):
    Cohort.objects.filter(pk=world.cohort.pk).update(invites_open=False)

    response = world.client_for(world.outsider).post(cohort_url("join_link", world.cohort.invite_code))

    assert response.status_code == 400
    assert not Membership.objects.filter(user=world.outsider, cohort=world.cohort).exists()


# --- Profile -------------------------------------------------------------------------


def _profile_data(**overrides: str) -> dict[str, str]:
    return {"name": "Alice Liddell", "github_username": "alice-gh", "timezone": "Europe/Berlin", **overrides}


def test_profile_get_shows_own_values(world):
    response = world.client_for(world.alice).get(cohort_url("profile"))

    assert response.status_code == 200
    assert response.context["form"].initial["github_username"] == world.alice.github_username


def test_profile_post_saves_and_strips_at_sign(world):
    response = world.client_for(world.alice).post(cohort_url("profile"), _profile_data(github_username="@alice-gh"))

    assert response.status_code == 302
    world.alice.refresh_from_db()
    assert (world.alice.name, world.alice.github_username, world.alice.timezone) == (
        "Alice Liddell",
        "alice-gh",
        "Europe/Berlin",
    )


def test_profile_post_only_changes_own_account(world):
    bob_before = User.objects.values().get(pk=world.bob.pk)

    world.client_for(world.alice).post(cohort_url("profile"), _profile_data())

    assert User.objects.values().get(pk=world.bob.pk) == bob_before


@pytest.mark.parametrize("username", ["-alice", "alice-", "al--ice", "al_ice", "a" * 40, "alice gh"])
def test_profile_post_invalid_github_username_returns_400_field_error(world, username):
    before = world.alice.github_username

    response = world.client_for(world.alice).post(cohort_url("profile"), _profile_data(github_username=username))

    assert response.status_code == 400
    assert response.context["form"].errors["github_username"]
    world.alice.refresh_from_db()
    assert world.alice.github_username == before


def test_profile_post_duplicate_github_username_any_case_returns_400_field_error(world):
    User.objects.filter(pk=world.bob.pk).update(github_username="Bob-Builder")

    response = world.client_for(world.alice).post(cohort_url("profile"), _profile_data(github_username="bob-builder"))

    assert response.status_code == 400
    assert "Another account already uses" in response.context["form"].errors["github_username"][0]
    world.alice.refresh_from_db()
    assert world.alice.github_username != "bob-builder"


def test_profile_post_own_username_in_other_case_is_allowed(world):
    User.objects.filter(pk=world.alice.pk).update(github_username="alice-gh")

    response = world.client_for(world.alice).post(cohort_url("profile"), _profile_data(github_username="Alice-GH"))

    assert response.status_code == 302
    world.alice.refresh_from_db()
    assert world.alice.github_username == "Alice-GH"


def test_profile_post_unknown_timezone_returns_400(world):
    response = world.client_for(world.alice).post(cohort_url("profile"), _profile_data(timezone="Mars/Olympus"))

    assert response.status_code == 400
    assert response.context["form"].errors["timezone"]


# --- CSRF ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "args"),
    [("lead_rotate_invite", ("cohort-a",)), ("step_focus", ("cohort-a", "step-1")), ("profile", ())],
    ids=["rotate", "focus", "profile"],
)
def test_post_without_csrf_token_gets_403(world, name, args):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.lead)
    old_code = world.cohort.invite_code

    response = client.post(cohort_url(name, *args), {"name": "Changed", "timezone": "UTC", "github_username": ""})

    assert response.status_code == 403
    world.cohort.refresh_from_db()
    world.lead.refresh_from_db()
    assert world.cohort.invite_code == old_code
    assert world.lead.name != "Changed"
    assert not StepProgress.objects.exists()


def test_join_post_without_csrf_token_gets_403(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.outsider)

    response = client.post(cohort_url("join"), {"invite_code": world.cohort.invite_code})

    assert response.status_code == 403
    assert not Membership.objects.filter(user=world.outsider, cohort=world.cohort).exists()
