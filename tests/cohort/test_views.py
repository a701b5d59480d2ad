"""Every cohort page: anonymous, the learner who owns the data, another learner or an outsider, and a lead."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from cohort.models import Cohort, Invitation, Membership, Role, StepProgress, User
from tests.factories import CohortFactory, MembershipFactory, StepFactory, UserFactory
from tests.helpers import cohort_url

pytestmark = pytest.mark.django_db

LOGIN_URL = reverse("account_login")


def _assert_login_redirect(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 302
    assert response.url.startswith(f"{LOGIN_URL}?next=")


def _csv(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("roster.csv", text.encode(), content_type="text/csv")


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


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


# --- Cohort dashboard ----------------------------------------------------------------


def test_dashboard_learner_sees_own_progress(world):
    response = world.client_for(world.alice).get(cohort_url("dashboard", "cohort-a"))

    assert response.status_code == 200
    assert response.context["membership"] == world.alice_membership
    assert [s.step for s in response.context["roadmap"].steps] == world.steps


def test_dashboard_other_learner_sees_their_own_progress_not_alices(world):
    StepProgress.objects.create(
        membership=world.alice_membership, step=world.steps[0], completed_at="2026-03-05T10:00Z"
    )

    response = world.client_for(world.bob).get(cohort_url("dashboard", "cohort-a"))

    assert response.status_code == 200
    assert response.context["membership"] == world.bob_membership
    assert response.context["roadmap"].done_count == 0


def test_dashboard_outsider_gets_404(world):
    response = world.client_for(world.outsider).get(cohort_url("dashboard", "cohort-a"))

    assert response.status_code == 404


def test_dashboard_unknown_cohort_gets_404(world):
    response = world.client_for(world.alice).get(cohort_url("dashboard", "no-such-cohort"))

    assert response.status_code == 404


def test_dashboard_lead_gets_200(world):
    response = world.client_for(world.lead).get(cohort_url("dashboard", "cohort-a"))

    assert response.status_code == 200


# --- Step page -----------------------------------------------------------------------


def test_step_learner_gets_200(world):
    response = world.client_for(world.alice).get(cohort_url("step", "cohort-a", "step-2"))

    assert response.status_code == 200
    assert response.context["step"] == world.steps[1]


def test_step_other_learner_sees_own_status(world):
    StepProgress.objects.create(membership=world.alice_membership, step=world.steps[1], started_at="2026-03-05T10:00Z")

    response = world.client_for(world.bob).get(cohort_url("step", "cohort-a", "step-2"))

    assert response.status_code == 200
    assert response.context["progress"].status == "not_started"


def test_step_outsider_gets_404(world):
    response = world.client_for(world.outsider).get(cohort_url("step", "cohort-a", "step-1"))

    assert response.status_code == 404


def test_step_of_another_cohort_gets_404(world):
    StepFactory(cohort=world.outsider.memberships.get().cohort, slug="elsewhere")

    response = world.client_for(world.alice).get(cohort_url("step", "cohort-a", "elsewhere"))

    assert response.status_code == 404


def test_step_lead_gets_200(world):
    response = world.client_for(world.lead).get(cohort_url("step", "cohort-a", "step-1"))

    assert response.status_code == 200


# --- Step focus ----------------------------------------------------------------------


def test_step_focus_learner_post_makes_step_current(world):
    response = world.client_for(world.alice).post(cohort_url("step_focus", "cohort-a", "step-2"))

    assert response.status_code == 302
    assert response.url == cohort_url("step", "cohort-a", "step-2")
    progress = StepProgress.objects.get(membership=world.alice_membership)
    assert progress.step == world.steps[1]
    assert progress.focused_at is not None
    assert progress.started_at is not None


def test_step_focus_htmx_returns_fragment(world):
    response = world.client_for(world.alice).post(
        cohort_url("step_focus", "cohort-a", "step-2"), headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body
    assert 'class="focus-box"' in body
    assert "current step" in body
    assert [t.name for t in response.templates] == ["cohort/_step_focus.html"]


def test_step_focus_get_not_allowed(world):
    response = world.client_for(world.alice).get(cohort_url("step_focus", "cohort-a", "step-2"))

    assert response.status_code == 405
    assert not StepProgress.objects.exists()


def test_step_focus_other_learner_changes_only_own_progress(world):
    world.client_for(world.bob).post(cohort_url("step_focus", "cohort-a", "step-3"))

    assert not StepProgress.objects.filter(membership=world.alice_membership).exists()
    assert StepProgress.objects.filter(membership=world.bob_membership, step=world.steps[2]).exists()


def test_step_focus_outsider_gets_404(world):
    response = world.client_for(world.outsider).post(cohort_url("step_focus", "cohort-a", "step-1"))

    assert response.status_code == 404
    assert not StepProgress.objects.exists()


def test_step_focus_step_of_another_cohort_gets_404(world):
    other_cohort = world.outsider.memberships.get().cohort
    StepFactory(cohort=other_cohort, slug="elsewhere")
    client = world.client_for(world.alice)

    through_own_cohort = client.post(cohort_url("step_focus", "cohort-a", "elsewhere"))
    through_other_cohort = client.post(cohort_url("step_focus", other_cohort.slug, "elsewhere"))

    assert through_own_cohort.status_code == 404
    assert through_other_cohort.status_code == 404
    assert not StepProgress.objects.exists()


def test_step_focus_lead_post_is_allowed(world):
    response = world.client_for(world.lead).post(cohort_url("step_focus", "cohort-a", "step-1"))

    assert response.status_code == 302


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
