"""Learner check-in pages: thin views over `cohort.check_ins.services`.

The form lives on the dashboard and step pages (a card from the `check_ins`
template tags) and posts here; a refused post is shown again on the learner's
check-ins page with its field errors and a 400.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from cohort import selectors
from cohort.access import member_or_404
from cohort.check_ins import services as check_ins
from cohort.check_ins.forms import CheckInPostForm
from cohort.models import CheckInStatus, Membership
from cohort.web import form_add_errors, safe_next


def _render_page(
    request: HttpRequest, membership: Membership, form: CheckInPostForm, status: int = 200
) -> HttpResponse:
    own_page = reverse("cohort:check_ins", args=[membership.cohort.slug])
    context = {
        "membership": membership,
        "cohort": membership.cohort,
        "form": form,
        "check_ins": check_ins.own_check_ins(membership=membership),
        # A corrected post still returns to the page the learner started from (the dashboard, a step).
        "next_url": safe_next(request, own_page) if request.method == "POST" else own_page,
    }
    return render(request, "cohort/check_ins/page.html", context, status=status)


def _form(membership: Membership, data: QueryDict | None = None) -> CheckInPostForm:
    roadmap = selectors.roadmap_for(membership=membership)
    current = roadmap.current.step if roadmap.current else None
    return CheckInPostForm(data, steps=[item.step for item in roadmap.steps], current=current, auto_id="check-in-%s")


@login_required
@require_GET
def check_in_list(request: HttpRequest, cohort_slug: str) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    if membership.is_staff_role:
        # Leads and mentors do not check in; what they want is everyone's.
        return redirect("cohort:lead_stuck", cohort_slug=cohort_slug)
    return _render_page(request, membership, _form(membership))


@login_required
@require_POST
def check_in_create(request: HttpRequest, cohort_slug: str) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    if membership.is_staff_role:
        raise PermissionDenied("Only learners post check-ins.")
    form = _form(membership, request.POST)
    if form.is_valid():
        try:
            check_in = check_ins.check_in_post(membership=membership, **form.cleaned_data)
        except ValidationError as exc:
            form_add_errors(form, exc)
        else:
            blocked = check_in.status == CheckInStatus.BLOCKED
            messages.success(
                request,
                f"Check-in posted for {check_in.step.code}. "
                + ("Your leads have been told you are blocked." if blocked else "Keep going!"),
            )
            return redirect(safe_next(request, reverse("cohort:check_ins", args=[cohort_slug])))
    return _render_page(request, membership, form, status=400)
