"""Smaller things from the walk: invite links opened signed out, the time-zone offer, labels, one base URL."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from cohort.models import Invitation, Membership, RoadmapStep, Role, StepProgress, User
from exercises.models import WebhookDelivery
from tests.factories import CohortFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-fresh-passphrase"


def _join_path(world) -> str:  # type: ignore[no-untyped-def]
    return reverse("cohort:join_link", args=[world.cohort.invite_code])


# --- Invite link opened signed out -----------------------------------------------------------


def test_invite_link_signed_out_shows_cohort_name_and_leads_to_signup(world):
    response = Client().get(_join_path(world))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Join Cohort A" in page
    assert f"{reverse('account_signup')}?next=" in page


def test_invite_link_signup_then_confirm_puts_learner_in_cohort(world, settings):
    settings.SITE_URL = "https://app.firstbreak.ai"
    client = Client()
    client.get(_join_path(world))

    signup = client.post(reverse("account_signup") + "?next=" + _join_path(world), {
        "email": "newbie@example.com", "password1": PASSWORD, "password2": PASSWORD,
    })  # fmt: skip

    assert signup.status_code == 302
    user = User.objects.get(email="newbie@example.com")
    assert not Membership.objects.filter(user=user).exists()  # not before the address is confirmed
    body = mail.outbox[-1].body
    # The confirmation link uses the one base URL, not the request's host.
    assert "https://app.firstbreak.ai/accounts/confirm-email/" in body
    confirm_path = re.search(r"/accounts/confirm-email/[^/\s]+/", body).group(0)

    # Confirmed from another browser (the mail app): the pending join lives in the database.
    confirmed = Client().post(confirm_path)

    assert confirmed.status_code == 302
    membership = Membership.objects.get(user=user)
    assert membership.cohort == world.cohort and membership.role == Role.LEARNER


def test_invite_link_signup_after_code_rotated_joins_nothing(world):
    client = Client()
    client.get(_join_path(world))
    world.cohort.invite_code = "ROTATED1"
    world.cohort.save(update_fields=["invite_code"])

    client.post(reverse("account_signup"), {"email": "late@example.com", "password1": PASSWORD, "password2": PASSWORD})

    assert not Invitation.objects.filter(email="late@example.com").exists()


def test_invite_link_signed_out_post_redirects_to_login(world):
    response = Client().post(_join_path(world))

    assert response.status_code == 302 and reverse("account_login") in response.url
    assert not Membership.objects.filter(cohort=world.cohort, user__email="x@example.com").exists()


def test_invite_link_signed_in_still_joins_with_a_click(world):
    client = world.client_for(world.outsider)

    response = client.post(_join_path(world))

    assert response.status_code == 302
    assert Membership.objects.filter(user=world.outsider, cohort=world.cohort).exists()


def test_broken_invite_link_signed_out_says_so(world):
    page = Client().get(reverse("cohort:join_link", args=["NOPE1234"])).content.decode()

    assert "does not work" in page


def test_password_reset_mail_links_to_site_url(world, settings):
    settings.SITE_URL = "https://app.firstbreak.ai"

    Client().post(reverse("account_reset_password"), {"email": world.alice.email})

    link = re.search(r"https?://\S+/accounts/password/reset/key/\S+/", mail.outbox[-1].body).group(0)
    assert link.startswith("https://app.firstbreak.ai/accounts/password/reset/key/")
    assert Client().get(link.removeprefix("https://app.firstbreak.ai")).status_code in (200, 302)


def test_lead_overview_invite_link_uses_site_url(world, settings):
    settings.SITE_URL = "https://app.firstbreak.ai"

    page = world.client_for(world.lead).get(reverse("cohort:lead_overview", args=[world.cohort.slug])).content.decode()

    assert f"https://app.firstbreak.ai/join/{world.cohort.invite_code}/" in page


# --- Time zone offer ------------------------------------------------------------------------


def test_timezone_offer_is_in_pages_for_signed_in_users_with_static_script(world):
    page = world.client_for(world.alice).get("/").content.decode()

    assert 'id="tz-offer"' in page and 'data-saved-zone="UTC"' in page
    assert "js/timezone" in page
    assert "onclick" not in page.split('id="tz-offer"')[1].split("</form>")[0]


def test_timezone_save_stores_zone_and_redirects_back(world):
    client = world.client_for(world.alice)

    response = client.post(reverse("cohort:timezone_save"), {"timezone": "America/Sao_Paulo", "next": "/profile/"})

    assert response.status_code == 302 and response.url == "/profile/"
    world.alice.refresh_from_db()
    assert world.alice.timezone == "America/Sao_Paulo"


def test_timezone_save_json(world):
    client = world.client_for(world.alice)

    response = client.post(reverse("cohort:timezone_save"), {"timezone": "Asia/Tokyo"}, HTTP_ACCEPT="application/json")

    assert response.status_code == 200 and response.json() == {"timezone": "Asia/Tokyo"}


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd"])
def test_timezone_save_refuses_unknown_zone(world, zone):
    client = world.client_for(world.alice)

    response = client.post(reverse("cohort:timezone_save"), {"timezone": zone})

    assert response.status_code == 400 and "timezone" in response.json()["errors"]
    world.alice.refresh_from_db()
    assert world.alice.timezone == "UTC"


def test_timezone_save_offsite_next_goes_home(world):
    response = world.client_for(world.alice).post(
        reverse("cohort:timezone_save"), {"timezone": "Asia/Tokyo", "next": "https://evil.example/"}
    )

    assert response.url == "/"


def test_timezone_save_needs_csrf_token_and_login(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.alice)

    assert client.post(reverse("cohort:timezone_save"), {"timezone": "Asia/Tokyo"}).status_code == 403
    assert Client().post(reverse("cohort:timezone_save"), {"timezone": "Asia/Tokyo"}).status_code == 302
    assert world.client_for(world.alice).get(reverse("cohort:timezone_save")).status_code == 405
    world.alice.refresh_from_db()
    assert world.alice.timezone == "UTC"


# --- Labels ---------------------------------------------------------------------------------


def test_step_label_does_not_repeat_its_code():
    cohort = CohortFactory()
    watch = RoadmapStep(cohort=cohort, position=5, code="Project Watch", title="Project Watch: Unsloth")
    step = RoadmapStep(cohort=cohort, position=1, code="Step 1", title="Collaborate on GitHub")

    assert str(watch) == "Project Watch: Unsloth"
    assert str(step) == "Step 1: Collaborate on GitHub"


def test_admin_plural_labels_are_spelled_right():
    assert str(StepProgress._meta.verbose_name_plural) == "step progress"
    assert str(WebhookDelivery._meta.verbose_name_plural) == "webhook deliveries"


def test_timezone_choices_are_read_once_and_handed_out_as_fresh_lists():
    # The zone list is cached (the tz database was walked on every form built); callers still get their own list.
    import zoneinfo

    from cohort.forms import _timezone_choices

    first, second = _timezone_choices(), _timezone_choices()
    assert first == second == [(n, n.replace("_", " ")) for n in sorted(zoneinfo.available_timezones())]
    first.clear()
    assert _timezone_choices() == second
