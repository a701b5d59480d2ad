"""How exercises react to other apps' signals (connected in `ExercisesConfig.ready`)."""

from __future__ import annotations

from django.dispatch import receiver

from config.publish import publish_after_commit
from exercises import tasks
from inference.signals import sandbox_work_finished


@receiver(sandbox_work_finished, dispatch_uid="exercises.check_sandbox_exercises")
def check_sandbox_exercises_after_work(sender: object, *, membership_id: int, **kwargs: object) -> None:
    """A finished run or lab may complete a sandbox exercise: check the member's, in a task."""
    publish_after_commit(tasks.check_sandbox_exercises, membership_id=membership_id)
