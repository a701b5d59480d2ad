"""Object-level access: every cohort page asks these, never just `login_required`.

A cohort the user does not belong to is answered 404 (its existence is not
revealed); a lead page asked for by a learner of that cohort is 403.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from cohort.models import Membership, Role
from cohort.selectors import membership_for


def member_or_404(request: HttpRequest, cohort_slug: str) -> Membership:
    if not request.user.is_authenticated:  # behind login_required; an anonymous caller is in no cohort
        raise Http404("No such cohort")
    membership = membership_for(user=request.user, cohort_slug=cohort_slug)
    if membership is None:
        raise Http404("No such cohort")
    return membership


def lead_or_403(request: HttpRequest, cohort_slug: str) -> Membership:
    """Leads manage their cohorts; mentors see the overview too (read-only pages pass `allow_mentor`)."""
    membership = member_or_404(request, cohort_slug)
    if membership.role != Role.LEAD:
        raise PermissionDenied("Only the cohort's leads can do this.")
    return membership


def staff_or_403(request: HttpRequest, cohort_slug: str) -> Membership:
    membership = member_or_404(request, cohort_slug)
    if not membership.is_staff_role:
        raise PermissionDenied("Only the cohort's leads and mentors can see this page.")
    return membership
