"""Sign-up, sign-in and sign-out through django-allauth, with the site's settings."""

from __future__ import annotations

from importlib import import_module

import pytest
from allauth.account import app_settings as account_settings
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse

from cohort.models import User
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

GITHUB_SCOPE = settings.SOCIALACCOUNT_PROVIDERS["github"]["SCOPE"]
# What settings.py builds from the environment without and with GITHUB_CLIENT_ID/SECRET.
GITHUB_UNSET = {"SOCIALACCOUNT_PROVIDERS": {"github": {"SCOPE": GITHUB_SCOPE}}, "GITHUB_LOGIN_ENABLED": False}
GITHUB_SET = {
    "SOCIALACCOUNT_PROVIDERS": {
        "github": {"SCOPE": GITHUB_SCOPE, "APPS": [{"client_id": "test-client-id", "secret": "s3cret", "key": ""}]}
    },
    "GITHUB_LOGIN_ENABLED": True,
}


def _rate_amount(action: str, per: str) -> int:
    """The number of attempts allauth allows for `action`, from its configured rates such as "30/m/ip"."""
    for rate in account_settings.RATE_LIMITS[action].split(","):
        amount, _duration, *scope = rate.split("/")
        if scope == [per]:
            return int(amount)
    raise AssertionError(f"no {per} rate for {action}")


def _session_exists(key: str) -> bool:
    return import_module(settings.SESSION_ENGINE).SessionStore().exists(key)


def _login(client: Client, email: str, password: str):  # type: ignore[no-untyped-def]
    return client.post(reverse("account_login"), {"login": email, "password": password})


def _signup(client: Client, email: str, password: str = "a-long-fresh-passphrase"):  # type: ignore[no-untyped-def]
    return client.post(reverse("account_signup"), {"email": email, "password1": password, "password2": password})


# --- Sign-up and verification -------------------------------------------------------


def test_signup_sends_verification_and_does_not_sign_in():
    client = Client()

    response = _signup(client, "New@Example.com")

    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    assert SESSION_KEY not in client.session
    user = User.objects.get(email="new@example.com")
    assert not EmailAddress.objects.get(user=user).verified
    assert len(mail.outbox) == 1
    assert "/accounts/confirm-email/" in mail.outbox[0].body


def test_login_unverified_email_is_refused():
    _signup(Client(), "new@example.com", "a-long-fresh-passphrase")
    client = Client()

    response = _login(client, "new@example.com", "a-long-fresh-passphrase")

    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    assert SESSION_KEY not in client.session
    assert client.get(reverse("cohort:profile")).status_code == 302


def test_login_verified_email_signs_in_and_lands_on_home(world):
    client = Client()

    response = _login(client, world.alice.email, PASSWORD)

    assert response.status_code == 302
    assert response.url == reverse("cohort:home")
    assert client.session[SESSION_KEY] == str(world.alice.pk)


def test_login_wrong_password_is_refused(world):
    client = Client()

    response = _login(client, world.alice.email, "wrong-password")

    assert response.status_code == 200
    assert response.context["form"].errors
    assert SESSION_KEY not in client.session


# --- Rate limits --------------------------------------------------------------------


def test_login_failures_for_one_email_lock_it_even_with_the_right_password(world):
    per_email = _rate_amount("login_failed", "key")
    client = Client()
    for _ in range(per_email):
        _login(client, world.alice.email, "wrong-password")

    response = _login(client, world.alice.email, PASSWORD)

    assert "Too many failed login attempts" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_login_repeated_attempts_get_429(world):
    # allauth's default "login" limit is 30 POSTs a minute from one address.
    per_ip = _rate_amount("login", "ip")
    client = Client()
    statuses = [_login(client, world.alice.email, "wrong-password").status_code for _ in range(per_ip)]

    response = _login(client, world.alice.email, PASSWORD)

    assert 429 not in statuses
    assert response.status_code == 429
    assert SESSION_KEY not in client.session


def test_login_failures_from_another_address_are_counted_apart(world):
    per_ip = _rate_amount("login", "ip")
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(per_ip + 1):
        _login(attacker, "someone@example.com", "guess")

    response = _login(Client(REMOTE_ADDR="198.51.100.9"), world.alice.email, PASSWORD)

    assert response.status_code == 302


# --- Sessions -----------------------------------------------------------------------


def test_login_rotates_session_key(world):
    client = Client()
    session = client.session
    session["before_login"] = True
    session.save()
    key_before = session.session_key

    _login(client, world.alice.email, PASSWORD)

    key_after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert key_after != key_before
    assert not _session_exists(key_before)
    assert client.session[SESSION_KEY] == str(world.alice.pk)


def test_logout_get_does_not_sign_out(world):
    client = world.client_for(world.alice)

    response = client.get(reverse("account_logout"))

    assert response.status_code == 200
    assert client.session[SESSION_KEY] == str(world.alice.pk)


def test_logout_post_ends_session_on_server(world):
    client = world.client_for(world.alice)
    key = client.session.session_key

    response = client.post(reverse("account_logout"))

    assert response.status_code == 302
    assert not _session_exists(key)
    assert client.get(reverse("cohort:profile")).status_code == 302


def test_login_post_without_csrf_token_gets_403(world):
    client = Client(enforce_csrf_checks=True)

    response = _login(client, world.alice.email, PASSWORD)

    assert response.status_code == 403
    assert SESSION_KEY not in client.session


# --- GitHub sign-in -------------------------------------------------------------------


def test_login_page_has_no_github_button_when_github_not_configured():
    with override_settings(**GITHUB_UNSET):
        response = Client().get(reverse("account_login"))

    assert response.status_code == 200
    main = response.content.decode().split("<main", 1)[1].split("</main>", 1)[0]
    assert "GitHub" not in main
    assert reverse("github_login") not in main


def test_login_page_offers_github_when_configured():
    with override_settings(**GITHUB_SET):
        response = Client().get(reverse("account_login"))

    assert "GitHub" in response.content.decode()
    assert reverse("github_login") in response.content.decode()


def test_github_login_starts_only_from_post():
    with override_settings(**GITHUB_SET):
        client = Client()
        get_response = client.get(reverse("github_login"))
        post_response = client.post(reverse("github_login"))

    assert get_response.status_code == 200
    assert 'method="post"' in get_response.content.decode()
    assert post_response.status_code == 302
    assert post_response.url.startswith("https://github.com/login/oauth/authorize?")
    assert "client_id=test-client-id" in post_response.url


# --- Layout --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url_name", ["account_login", "account_signup", "account_reset_password", "account_email_verification_sent"]
)
def test_account_pages_use_site_base_template(url_name):
    response = Client().get(reverse(url_name))

    assert response.status_code == 200
    body = response.content.decode()
    assert 'class="brand"' in body
    assert "First Break <span>AI</span>" in body
    assert "base.html" in [t.name for t in response.templates]


def test_header_sign_up_and_sign_in_links_keep_next():
    body = Client().get(reverse("account_login") + "?next=/c/cohort-a/sessions/2/").content.decode()

    assert f'href="{reverse("account_signup")}?next=/c/cohort-a/sessions/2/"' in body
    assert f'href="{reverse("account_login")}?next=/c/cohort-a/sessions/2/"' in body
    assert 'rel="icon"' in body


def test_header_links_without_next_are_plain():
    body = Client().get(reverse("account_login")).content.decode()

    assert f'href="{reverse("account_signup")}"' in body


def test_account_logout_page_uses_site_base_template(world):
    response = world.client_for(world.alice).get(reverse("account_logout"))

    assert "First Break <span>AI</span>" in response.content.decode()


def _github_login(login: str, *, existing_user=None):  # type: ignore[no-untyped-def]
    from allauth.socialaccount.models import SocialAccount, SocialLogin

    from cohort.models import User

    account = SocialAccount(provider="github", uid="42", extra_data={"login": login, "name": "Octo Cat"})
    user = existing_user or User(email="octo@example.com")
    sociallogin = SocialLogin(account=account, user=user)
    if existing_user is not None:
        account.user = existing_user
        sociallogin.state = {}
    return sociallogin


@pytest.mark.django_db
def test_github_signup_fills_the_github_username_from_the_login(rf):
    from cohort.adapters import SocialAccountAdapter

    sociallogin = _github_login("octocat")
    user = SocialAccountAdapter().populate_user(
        rf.get("/"), sociallogin, {"email": "octo@example.com", "name": "Octo Cat"}
    )

    assert user.github_username == "octocat" and user.name == "Octo Cat"


@pytest.mark.django_db
def test_github_signup_does_not_take_a_username_someone_else_has(rf):
    from cohort.adapters import SocialAccountAdapter
    from tests.factories import UserFactory

    UserFactory(github_username="OctoCat")
    user = SocialAccountAdapter().populate_user(rf.get("/"), _github_login("octocat"), {"email": "octo@example.com"})

    assert user.github_username == ""


@pytest.mark.django_db
def test_existing_user_connecting_github_gets_the_login_recorded():
    from cohort.services import user_fill_github_username
    from tests.factories import UserFactory

    user = UserFactory(github_username="")
    user_fill_github_username(user=user, username="new-login")

    user.refresh_from_db()
    assert user.github_username == "new-login"
