"""Roster invitations waiting for their person: accept or decline (consent before membership)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from cohort import selectors, services
from cohort.http import AuthedRequest


@login_required
@require_GET
def invitation_list(request: AuthedRequest) -> HttpResponse:
    return render(request, "cohort/invitations.html", {"invitations": selectors.pending_invitations(user=request.user)})


@login_required
@require_POST
def invitation_respond(request: AuthedRequest, invitation_id: int) -> HttpResponse:
    accept = request.POST.get("answer") == "accept"
    try:
        invitation = services.invitation_respond(user=request.user, invitation_id=invitation_id, accept=accept)
    except services.InvitationNotFound as exc:
        raise Http404(str(exc)) from exc
    except services.InvitationError as exc:
        messages.error(request, str(exc))
        return redirect("cohort:invitations")
    if accept:
        messages.success(request, f"Welcome to {invitation.cohort.name}!")
        return redirect("cohort:dashboard", cohort_slug=invitation.cohort.slug)
    messages.info(request, f"You declined the invitation to {invitation.cohort.name}.")
    return redirect("cohort:invitations")
