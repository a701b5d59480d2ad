"""The one base class for refusals a cohort user sees (office hours, live sessions, agenda, joining, invitations).

A service raises a subclass with a message that is safe to show; a view catches
`Refused` (it is a `ValidationError`, so form code can treat it as one) and shows
the message next to the form or as a page message.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError


class Refused(ValidationError):
    """A request the rules refuse; the message is safe to show."""

    def __str__(self) -> str:
        # ValidationError's own str() is the repr of a list; a page shows the sentence.
        return " ".join(self.messages)
