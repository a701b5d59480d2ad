"""Who may call the sandbox API: a signed-in member of a cohort, with the page's CSRF token on writes."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import SessionAuth

from cohort.models import Membership, User
from cohort.selectors import primary_membership
from inference.api.errors import ApiError


class MemberRequest(HttpRequest):
    """What an operation behind `MemberSession` is called with: a signed-in user, whose membership is `auth`."""

    user: User
    auth: Membership


class MemberSession(SessionAuth):
    """Django's session cookie (ninja checks CSRF on unsafe methods); `request.auth` is the membership.

    Anonymous callers get 401 before any CSRF check, so a client learns to sign in
    first; signed-in users outside every cohort get 403, as the sandbox pages send
    them to join one.
    """

    def __call__(self, request: HttpRequest) -> Any:
        if not request.user.is_authenticated:
            return None
        return super().__call__(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Membership | None:
        if not request.user.is_authenticated:  # __call__ answered anonymous callers already
            return None
        membership = primary_membership(user=request.user)
        if membership is None:
            raise ApiError(403, "Join a cohort to use the sandbox.")
        return membership
