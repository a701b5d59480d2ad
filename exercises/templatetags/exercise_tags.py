"""Exercise panels that cohort pages include (the cohort app does not import exercises)."""

from __future__ import annotations

from django import template

from cohort.models import Membership, RoadmapStep
from exercises import selectors

register = template.Library()


@register.inclusion_tag("exercises/_exercise_list.html")
def exercise_list(membership: Membership, step: RoadmapStep | None = None) -> dict[str, object]:
    return {
        "cohort": membership.cohort,
        "statuses": selectors.exercise_statuses(membership=membership, step=step),
        "show_step": step is None,
    }


@register.inclusion_tag("exercises/_exercise_panel.html")
def exercise_panel(membership: Membership) -> dict[str, object]:
    """The dashboard's list, refreshing itself so PR states follow GitHub without a reload."""
    return {
        "cohort": membership.cohort,
        "statuses": selectors.exercise_statuses(membership=membership),
        "show_step": True,
    }
