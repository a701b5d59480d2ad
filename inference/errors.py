"""The one base class for sandbox refusals a learner sees (limits, runs, branches, labs, templates).

The message of each is written for the learner; the API turns them into its
`{"error", "fields"}` answers (`inference/api/errors.py`) and pages show them as they are.
Import nothing from the project here: the engine layer raises these too.
"""

from __future__ import annotations


class Refused(Exception):
    """A request the sandbox refuses; the message is safe to show."""
