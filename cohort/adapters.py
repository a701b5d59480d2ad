"""django-allauth hooks: roster invitations and GitHub usernames."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.contrib import messages
from django.http import HttpRequest

from cohort import selectors, services


def _accept_invitations(user) -> None:  # type: ignore[no-untyped-def]
    for address in EmailAddress.objects.filter(user=user, verified=True):
        services.invitations_accept(user=user, email=address.email)


class AccountAdapter(DefaultAccountAdapter):
    def confirm_email(self, request: HttpRequest, email_address: EmailAddress) -> bool:
        confirmed = super().confirm_email(request, email_address)
        if confirmed and email_address.user_id:
            services.invitations_accept(user=email_address.user, email=email_address.email)
        return confirmed

    def login(self, request: HttpRequest, user) -> None:  # type: ignore[no-untyped-def]
        super().login(request, user)
        # Covers GitHub sign-ins whose email GitHub already verified.
        _accept_invitations(user)
        waiting = selectors.pending_invitations(user=user)
        if waiting:
            names = ", ".join(invitation.cohort.name for invitation in waiting)
            messages.info(request, f"You are invited to {names}. Review your invitations to join.")


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def populate_user(self, request: HttpRequest, sociallogin, data):  # type: ignore[no-untyped-def]
        user = super().populate_user(request, sociallogin, data)
        if sociallogin.account.provider == "github":
            login = sociallogin.account.extra_data.get("login", "")
            if login and not services.github_username_taken(username=login):
                user.github_username = login
            user.name = user.name or sociallogin.account.extra_data.get("name") or ""
        return user

    def pre_social_login(self, request: HttpRequest, sociallogin) -> None:  # type: ignore[no-untyped-def]
        # An existing user who connects GitHub gets their login recorded.
        if sociallogin.is_existing and sociallogin.account.provider == "github":
            services.user_fill_github_username(
                user=sociallogin.user, username=sociallogin.account.extra_data.get("login", "")
            )
