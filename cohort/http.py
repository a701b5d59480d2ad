"""The request type of views behind `login_required` (django-stubs' documented pattern).

`HttpRequest.user` is a `User` or an `AnonymousUser`; a view that only signed-in
users reach annotates its request as `AuthedRequest`, so the type checker knows
what the decorator guarantees.
"""

from __future__ import annotations

from typing import TypeIs

from django.http import HttpRequest

from cohort.models import User


class AuthedRequest(HttpRequest):
    user: User


def is_authed(request: HttpRequest) -> TypeIs[AuthedRequest]:
    """For views open to everyone that branch on whether the user signed in."""
    return request.user.is_authenticated
