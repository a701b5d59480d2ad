"""Signals the inference app sends; other apps react to them (inference imports no other app's code).

Import nothing from the project here: receivers import this module, never the other way.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent by the worker after a run or a lab of a member finished successfully, with
# `membership_id`. Receivers only queue work (the exercises app checks the member's
# sandbox exercises); a receiver that raises is logged and does not fail the run.
sandbox_work_finished = Signal()
