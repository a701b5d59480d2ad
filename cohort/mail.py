"""Emails the cohort app sends."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from cohort.models import Invitation


def site_url(path: str) -> str:
    """An absolute link for places outside the site (emails, calendar apps): SITE_URL, never the request's Host."""
    return settings.SITE_URL.rstrip("/") + path


def invitations_send(*, invitation_ids: list[int]) -> int:
    sent = 0
    for invitation_id in invitation_ids:
        with transaction.atomic():
            # Claim the row so a task run twice sends each email once.
            claimed = Invitation.objects.filter(
                pk=invitation_id, accepted_at__isnull=True, emailed_at__isnull=True
            ).update(emailed_at=timezone.now())
            if claimed != 1:
                continue
            invitation = Invitation.objects.select_related("cohort").get(pk=invitation_id)
            context = {
                "invitation": invitation,
                "signup_url": site_url(reverse("account_signup")),
                "invitations_url": site_url(reverse("cohort:invitations")),
                "join_url": site_url(reverse("cohort:join_link", args=[invitation.cohort.invite_code])),
            }
            send_mail(
                subject=f"[First Break AI] You are invited to {invitation.cohort.name}",
                message=render_to_string("cohort/email/invitation.txt", context),
                from_email=None,
                recipient_list=[invitation.email],
            )
            sent += 1
    return sent
