"""django-allauth hooks: roster invitations and GitHub usernames."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django import forms
from django.contrib import messages
from django.http import HttpRequest
from django.urls import reverse

from cohort import selectors, services
from cohort.mail import site_url
from cohort.models import User

if TYPE_CHECKING:
    from allauth.account.models import EmailConfirmation
    from allauth.socialaccount.models import SocialLogin


def _accept_invitations(user: User) -> None:
    for address in EmailAddress.objects.filter(user=user, verified=True):
        services.invitations_accept(user=user, email=address.email)


class AccountAdapter(DefaultAccountAdapter):
    def get_email_confirmation_url(self, request: HttpRequest, emailconfirmation: EmailConfirmation) -> str:
        # Links in mail use the one base URL (SITE_URL), never the Host header of the request that sent it.
        return site_url(reverse("account_confirm_email", args=[emailconfirmation.key]))

    def get_reset_password_from_key_url(self, key: str) -> str:
        # As allauth builds it (flows.password_reset), on SITE_URL.
        path = reverse("account_reset_password_from_key", kwargs={"uidb36": "UID", "key": "KEY"})
        return site_url(path.replace("UID-KEY", quote(key)))

    def save_user(self, request: HttpRequest, user: User, form: forms.Form, commit: bool = True) -> User:
        user = super().save_user(request, user, form, commit=commit)
        code = request.session.pop(services.JOIN_CODE_SESSION_KEY, None) if hasattr(request, "session") else None
        if code and commit and user.email:
            services.invitation_from_invite_link(invite_code=code, email=user.email)
        return user

    def confirm_email(self, request: HttpRequest, email_address: EmailAddress) -> bool:
        confirmed: bool = super().confirm_email(request, email_address)
        if confirmed and email_address.user_id:
            services.invitations_accept(user=email_address.user, email=email_address.email)
        return confirmed

    def login(self, request: HttpRequest, user: User) -> None:
        super().login(request, user)
        # Covers GitHub sign-ins whose email GitHub already verified.
        _accept_invitations(user)
        waiting = selectors.pending_invitations(user=user)
        if waiting:
            names = ", ".join(invitation.cohort.name for invitation in waiting)
            messages.info(request, f"You are invited to {names}. Review your invitations to join.")


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def populate_user(self, request: HttpRequest, sociallogin: SocialLogin, data: dict[str, Any]) -> User:
        user: User = super().populate_user(request, sociallogin, data)
        if sociallogin.account.provider == "github":
            login = sociallogin.account.extra_data.get("login", "")
            if login and not services.github_username_taken(username=login):
                user.github_username = login
            user.name = user.name or sociallogin.account.extra_data.get("name") or ""
        return user

    def save_user(self, request: HttpRequest, sociallogin: SocialLogin, form: forms.Form | None = None) -> User:
        # A new account made by signing in with GitHub: the login is proven.
        user: User = super().save_user(request, sociallogin, form)
        _connect_github(user, sociallogin)
        return user

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        # Signing in again with GitHub, or connecting GitHub to the signed-in account
        # (the profile's "Connect GitHub"): record the proven login and numeric id.
        if sociallogin.account.provider != "github":
            return
        if sociallogin.is_existing:
            _connect_github(sociallogin.user, sociallogin)
        elif sociallogin.state.get("process") == "connect" and request.user.is_authenticated:
            _connect_github(request.user, sociallogin)


def _connect_github(user: User, sociallogin: SocialLogin) -> None:
    try:
        github_id = int(sociallogin.account.uid)
    except (TypeError, ValueError):
        return
    services.user_connect_github(user=user, login=sociallogin.account.extra_data.get("login", ""), github_id=github_id)
