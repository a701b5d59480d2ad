"""Object-level access to office-hours sessions, on top of `cohort.access` (membership first)."""

from __future__ import annotations

from django.http import Http404

from cohort.models import Membership, OfficeHoursSession
from cohort.office_hours.selectors import session_for


def session_or_404(membership: Membership, number: int) -> OfficeHoursSession:
    """The office-hours session `number` of the member's own cohort; another cohort's number is simply not found."""
    session = session_for(cohort=membership.cohort, number=number)
    if session is None:
        raise Http404("No such session")
    return session
