"""Queue Celery work from services: the one way to publish, named for when it happens.

Every task is published by a service through one of these (views, selectors and
other apps never publish; `make test` checks it with import-linter):

- `publish_after_commit`: once the current transaction commits (at once in
  autocommit), so a rolled-back write publishes nothing. A broker that is down
  raises in the caller, which shows an error (the API answers 503).
- `publish_after_commit_or_leave_to_sweep`: the same, for work whose row is
  already stored and that a beat sweep publishes again. A broker that is down is
  only logged: a webhook answer, a saved check-in or a lead's "Publish" must not
  turn into an error page or a 5 s wait because of the broker.
- `publish_now_or_leave_to_sweep`: at once, same failure rule; for the sweeps
  themselves, which run outside any request.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


def publish_after_commit(task: Any, /, **kwargs: object) -> None:
    """Publish `task(**kwargs)` once the transaction commits; a broker error reaches the caller."""
    transaction.on_commit(lambda: task.apply_async(kwargs=kwargs))


def publish_after_commit_or_leave_to_sweep(task: Any, /, *, what: str, **kwargs: object) -> None:
    """Publish `task(**kwargs)` once the transaction commits; if the broker is down, log it and let the sweep publish."""
    transaction.on_commit(lambda: publish_now_or_leave_to_sweep(task, what=what, **kwargs))


def publish_now_or_leave_to_sweep(task: Any, /, *, what: str, **kwargs: object) -> bool:
    """Publish `task(**kwargs)` now without retrying; a broker that is down only logs a warning.

    Returns whether the message went out. `what` names the work in the log.
    """
    try:
        task.apply_async(kwargs=kwargs, retry=False)
    except Exception:
        logger.warning("could not publish %s; the sweep will pick it up", what, exc_info=True)
        return False
    return True
