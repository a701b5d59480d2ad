"""Roster CSV rules, the invitation email, and invitations becoming memberships."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cohort import mail as cohort_mail
from cohort import services
from cohort.models import Invitation, Membership, Role, User
from cohort.roster import parse_roster, roster_import
from tests.factories import CohortFactory, UserFactory

pytestmark = pytest.mark.django_db


def _import(world, text: str, **kwargs):  # type: ignore[no-untyped-def]
    content = text.encode() if isinstance(text, str) else text
    return roster_import(cohort=world.cohort, content=content, invited_by=world.lead, **kwargs)


def _cohort_rows(world) -> tuple[list[tuple[str, str]], list[str]]:  # type: ignore[no-untyped-def]
    memberships = sorted(Membership.objects.filter(cohort=world.cohort).values_list("user__email", "role"))
    invitations = sorted(Invitation.objects.filter(cohort=world.cohort).values_list("email", flat=True))
    return memberships, invitations


# --- Parsing ---------------------------------------------------------------------------


def test_parse_roster_reads_rows_with_defaults():
    rows, errors = parse_roster(b"email,name,github_username,role\nAda@Example.com, Ada ,@ada-l,\n")

    assert errors == []
    assert [(r.line, r.email, r.name, r.github_username, r.role) for r in rows] == [
        (2, "ada@example.com", "Ada", "ada-l", Role.LEARNER)
    ]


def test_parse_roster_header_is_case_insensitive_and_bom_is_ignored():
    rows, errors = parse_roster("\ufeffEmail,Role\nada@example.com,Mentor\n".encode())

    assert errors == []
    assert [(r.email, r.role) for r in rows] == [("ada@example.com", Role.MENTOR)]


def test_parse_roster_missing_email_column_is_line_1_error():
    rows, errors = parse_roster(b"name,role\nAda,learner\n")

    assert rows == []
    assert errors == [(1, "Missing column: email.")]


def test_parse_roster_unknown_column_is_line_1_error():
    rows, errors = parse_roster(b"email,phone\nada@example.com,123\n")

    assert rows == []
    assert errors == [(1, "Unknown column: phone. Use email, name, github_username, role.")]


def test_parse_roster_empty_file_is_an_error():
    _rows, errors = parse_roster(b"")

    assert [line for line, _ in errors] == [1]
    assert "empty" in errors[0][1]


def test_parse_roster_bad_email_reported_with_line():
    _rows, errors = parse_roster(b"email\nada@example.com\nnot-an-email\n\n")

    assert errors == [(3, "“not-an-email” is not a valid email address.")]


def test_parse_roster_empty_email_reported():
    _rows, errors = parse_roster(b"email,name\n,Nameless\n")

    assert errors == [(2, "“(empty)” is not a valid email address.")]


def test_parse_roster_duplicate_email_in_file_any_case():
    _rows, errors = parse_roster(b"email\nada@example.com\nADA@example.com\n")

    assert errors == [(3, "ada@example.com is also on line 2.")]


def test_parse_roster_bad_role_reported():
    _rows, errors = parse_roster(b"email,role\nada@example.com,boss\n")

    assert errors == [(2, "Role “boss” is not one of learner, mentor, lead.")]


@pytest.mark.parametrize("username", ["-ada", "ada-", "a--da", "ada_l", "a" * 40])
def test_parse_roster_bad_github_username_reported(username):
    _rows, errors = parse_roster(f"email,github_username\nada@example.com,{username}\n".encode())

    assert errors == [(2, f"“{username}” is not a valid GitHub username.")]


def test_parse_roster_duplicate_github_username_in_file_any_case():
    _rows, errors = parse_roster(b"email,github_username\nada@example.com,ada-l\ngrace@example.com,ADA-L\n")

    assert errors == [(3, "GitHub username ADA-L is also on line 2.")]


def test_parse_roster_row_with_extra_fields_reported():
    _rows, errors = parse_roster(b"email,name\nada@example.com,Ada,extra\n")

    assert errors == [(2, "This row has more fields than the header.")]


def test_parse_roster_blank_lines_ignored():
    rows, errors = parse_roster(b"email,name\n\nada@example.com,Ada\n,\n\ngrace@example.com,Grace\n")

    assert errors == []
    assert [r.email for r in rows] == ["ada@example.com", "grace@example.com"]


def test_parse_roster_line_numbers_count_blank_lines():
    _rows, errors = parse_roster(b"email\n\n\nnot-an-email\n")

    assert errors == [(4, "“not-an-email” is not a valid email address.")]


def test_parse_roster_non_utf8_file_is_refused():
    rows, errors = parse_roster("email,name\nzoe@example.com,Zoë\n".encode("latin-1"))

    assert rows == []
    assert len(errors) == 1
    assert "not UTF-8" in errors[0][1]


def test_parse_roster_too_many_rows_is_refused(settings):
    settings.ROSTER_MAX_ROWS = 2

    rows, errors = parse_roster(b"email\na@example.com\nb@example.com\nc@example.com\n")

    assert rows == []
    assert errors == [(0, "The file has 3 rows; the limit is 2.")]


def test_parse_roster_reports_every_bad_row():
    _rows, errors = parse_roster(b"email,role\nbad,learner\nok@example.com,boss\nok2@example.com,lead\n")

    assert [line for line, _ in errors] == [2, 3]


# --- Importing -------------------------------------------------------------------------


def test_roster_import_existing_account_gets_an_invitation_not_a_membership(world):
    user = UserFactory(email="grace@example.com", github_username="")

    result = _import(world, "email,github_username,role\ngrace@example.com,grace-h,mentor\n")

    assert result.ok
    assert result.invited == ["grace@example.com"]
    assert not Membership.objects.filter(user=user, cohort=world.cohort).exists()
    user.refresh_from_db()
    assert user.github_username == ""
    assert Invitation.objects.get(email="grace@example.com").role == Role.MENTOR


def test_roster_import_result_does_not_reveal_which_emails_have_accounts(world):
    UserFactory(email="has-account@example.com")

    result = _import(world, "email\nhas-account@example.com\nno-account@example.com\n")

    assert result.invited == ["has-account@example.com", "no-account@example.com"]
    assert (result.role_changed, result.unchanged, result.errors) == ([], [], [])


def test_existing_account_accepts_the_invitation_on_the_invitations_page(world):
    user = UserFactory(email="grace@example.com", github_username="")
    _import(world, "email,github_username,role\ngrace@example.com,grace-h,mentor\n")
    invitation = Invitation.objects.get(email="grace@example.com")
    client = Client()
    client.force_login(user)

    page = client.get(reverse("cohort:invitations"))
    response = client.post(reverse("cohort:invitation_respond", args=[invitation.pk]), {"answer": "accept"})

    assert world.cohort.name.encode() in page.content
    assert response.status_code == 302
    assert Membership.objects.get(user=user, cohort=world.cohort).role == Role.MENTOR
    user.refresh_from_db()
    assert user.github_username == "grace-h"


def test_existing_account_can_decline_and_is_not_added_at_next_sign_in(world):
    user = UserFactory(email="grace@example.com")
    _import(world, "email\ngrace@example.com\n")
    invitation = Invitation.objects.get()
    client = Client()
    client.force_login(user)

    client.post(reverse("cohort:invitation_respond", args=[invitation.pk]), {"answer": "decline"})
    services.invitations_accept(user=user, email=user.email)

    assert not Membership.objects.filter(user=user, cohort=world.cohort).exists()
    assert Invitation.objects.get().declined_at is not None
    assert b"You have no pending invitations" in client.get(reverse("cohort:invitations")).content


def test_sign_in_does_not_accept_an_invitation_made_after_the_account(world):
    user = UserFactory(email="grace@example.com")
    _import(world, "email\ngrace@example.com\n")

    assert services.invitations_accept(user=user, email=user.email) == []
    assert not Membership.objects.filter(user=user, cohort=world.cohort).exists()


def test_another_user_cannot_answer_someone_elses_invitation(world):
    UserFactory(email="grace@example.com")
    _import(world, "email\ngrace@example.com\n")
    invitation = Invitation.objects.get()
    client = world.client_for(world.bob)

    client.post(reverse("cohort:invitation_respond", args=[invitation.pk]), {"answer": "accept"})

    invitation.refresh_from_db()
    assert invitation.accepted_at is None
    assert not Membership.objects.filter(cohort=world.cohort, user__email="grace@example.com").exists()


def test_roster_import_unknown_email_gets_invitation_not_account(world):
    result = _import(world, "email,name,github_username,role\nnew@example.com,New Person,new-gh,lead\n")

    assert result.invited == ["new@example.com"]
    invitation = Invitation.objects.get(cohort=world.cohort)
    assert (invitation.email, invitation.name, invitation.github_username, invitation.role) == (
        "new@example.com",
        "New Person",
        "new-gh",
        Role.LEAD,
    )
    assert invitation.invited_by == world.lead
    assert invitation.emailed_at is None
    assert result.invitation_ids == [invitation.pk]
    assert not User.objects.filter(email="new@example.com").exists()


def test_roster_import_role_change_reported(world):
    result = _import(world, "email,role\nalice@example.com,mentor\nbob@example.com,learner\n")

    assert result.role_changed == ["alice@example.com"]
    assert result.unchanged == ["bob@example.com"]
    world.alice_membership.refresh_from_db()
    assert world.alice_membership.role == Role.MENTOR


def test_roster_import_same_file_twice_changes_nothing_the_second_time(world):
    text = "email,role\nalice@example.com,mentor\nnew@example.com,learner\n"
    _import(world, text)
    before = _cohort_rows(world)

    result = _import(world, text)

    assert result.ok
    assert result.role_changed == []
    assert result.unchanged == ["alice@example.com"]
    assert _cohort_rows(world) == before


def test_roster_import_github_username_of_another_user_refused(world):
    UserFactory(github_username="Taken-Name")

    result = _import(world, "email,github_username\nnew@example.com,taken-name\n")

    assert result.errors == [(2, "GitHub username taken-name is already used by an account.")]
    assert not Invitation.objects.exists()


def test_roster_import_existing_user_with_other_github_username_refused(world):
    result = _import(world, f"email,github_username\nalice@example.com,not-{world.alice.github_username}\n")

    assert result.errors == [
        (2, f"alice@example.com already has GitHub username {world.alice.github_username}."),
    ]


def test_roster_import_existing_user_with_same_github_username_any_case_accepted(world):
    result = _import(world, f"email,github_username\nalice@example.com,{world.alice.github_username.upper()}\n")

    assert result.ok
    world.alice.refresh_from_db()
    assert world.alice.github_username == world.alice.github_username.lower()


def test_roster_import_header_only_is_an_error(world):
    result = _import(world, "email,name\n")

    assert not result.ok
    assert result.errors == [(0, "The file has a header but no rows.")]


def test_roster_import_one_bad_row_imports_nothing(world):
    existing = UserFactory(email="existing@example.com")
    UserFactory(github_username="someone-else")
    before = _cohort_rows(world)

    result = _import(
        world,
        "email,github_username,role\n"
        "existing@example.com,,learner\n"
        "alice@example.com,,mentor\n"
        "new@example.com,fresh-gh,learner\n"
        "late@example.com,someone-else,learner\n",
    )

    assert result.errors == [(5, "GitHub username someone-else is already used by an account.")]
    assert (result.invited, result.role_changed) == ([], [])
    assert _cohort_rows(world) == before
    assert not Membership.objects.filter(user=existing).exists()
    world.alice_membership.refresh_from_db()
    assert world.alice_membership.role == Role.LEARNER


def test_roster_import_too_many_rows_imports_nothing(world, settings):
    settings.ROSTER_MAX_ROWS = 1
    before = _cohort_rows(world)

    result = _import(world, "email\nnew1@example.com\nnew2@example.com\n")

    assert not result.ok
    assert _cohort_rows(world) == before


def test_roster_import_non_utf8_imports_nothing(world):
    result = _import(world, "email,name\nzoe@example.com,Zoë\n".encode("cp1252"))

    assert not result.ok
    assert not Invitation.objects.exists()


# --- Invitation email ------------------------------------------------------------------


def test_invitations_send_emails_each_invitation_once_when_run_twice(world):
    invitation = Invitation.objects.create(cohort=world.cohort, email="new@example.com", name="New", role=Role.MENTOR)

    first = cohort_mail.invitations_send(invitation_ids=[invitation.pk])
    second = cohort_mail.invitations_send(invitation_ids=[invitation.pk])

    assert (first, second) == (1, 0)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new@example.com"]
    assert "Cohort A" in message.subject
    assert reverse("account_signup") in message.body
    assert reverse("cohort:join_link", args=[world.cohort.invite_code]) in message.body
    assert "as a mentor" in message.body
    invitation.refresh_from_db()
    assert invitation.emailed_at is not None


def test_invitations_send_skips_accepted_and_missing_invitations(world):
    accepted = Invitation.objects.create(cohort=world.cohort, email="done@example.com", accepted_at=timezone.now())

    sent = cohort_mail.invitations_send(invitation_ids=[accepted.pk, 999_999])

    assert sent == 0
    assert mail.outbox == []


# --- Accepting invitations -------------------------------------------------------------


def test_invitations_accept_creates_membership_with_invited_role(world):
    Invitation.objects.create(
        cohort=world.cohort, email="new@example.com", name="New Person", github_username="new-gh", role=Role.MENTOR
    )
    user = UserFactory(email="new@example.com", name="", github_username="")

    memberships = services.invitations_accept(user=user, email="NEW@example.com")

    assert [(m.cohort, m.role) for m in memberships] == [(world.cohort, Role.MENTOR)]
    user.refresh_from_db()
    assert (user.name, user.github_username) == ("New Person", "new-gh")
    assert Invitation.objects.get().accepted_at is not None


def test_invitations_accept_twice_creates_one_membership(world):
    Invitation.objects.create(cohort=world.cohort, email="new@example.com")
    user = UserFactory(email="new@example.com")
    services.invitations_accept(user=user, email="new@example.com")

    second = services.invitations_accept(user=user, email="new@example.com")

    assert second == []
    assert Membership.objects.filter(user=user).count() == 1


def test_invitations_accept_keeps_github_username_owned_by_someone_else(world):
    Invitation.objects.create(cohort=world.cohort, email="new@example.com", github_username="Bob-GH")
    User.objects.filter(pk=world.bob.pk).update(github_username="bob-gh")
    user = UserFactory(email="new@example.com", github_username="")

    services.invitations_accept(user=user, email="new@example.com")

    user.refresh_from_db()
    assert user.github_username == ""
    assert Membership.objects.filter(user=user, cohort=world.cohort).exists()


def test_invitations_accept_covers_every_cohort_that_invited_the_address(world):
    other = CohortFactory()
    Invitation.objects.create(cohort=world.cohort, email="new@example.com")
    Invitation.objects.create(cohort=other, email="new@example.com", role=Role.LEAD)
    user = UserFactory(email="new@example.com")

    services.invitations_accept(user=user, email="new@example.com")

    assert sorted(Membership.objects.filter(user=user).values_list("cohort__slug", "role")) == sorted(
        [(world.cohort.slug, Role.LEARNER), (other.slug, Role.LEAD)]
    )


def test_invitation_accepted_when_signup_email_is_confirmed(world):
    Invitation.objects.create(cohort=world.cohort, email="new@example.com", role=Role.MENTOR, github_username="new-gh")
    client = Client()
    client.post(
        reverse("account_signup"),
        {"email": "new@example.com", "password1": "a-long-fresh-passphrase", "password2": "a-long-fresh-passphrase"},
    )
    user = User.objects.get(email="new@example.com")
    assert not Membership.objects.filter(user=user).exists()
    confirm_path = re.search(r"/accounts/confirm-email/[^/\s]+/", mail.outbox[-1].body).group(0)

    response = client.post(confirm_path)

    assert response.status_code == 302
    membership = Membership.objects.get(user=user, cohort=world.cohort)
    assert membership.role == Role.MENTOR
    user.refresh_from_db()
    assert user.github_username == "new-gh"
