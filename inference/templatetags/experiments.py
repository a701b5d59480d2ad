"""Experiment cards and recap charts for cohort pages (the cohort app loads these tags, never imports inference)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import mark_safe

from inference import experiment_selectors as selectors

register = template.Library()


@register.inclusion_tag("inference/experiments/_cards.html")
def experiment_cards(membership: Any, session: Any = None) -> dict[str, Any]:
    """Open experiments of the cohort (of the session, on a session page) with a one-click run for each.

    On a session page a lead also gets "Start an experiment" while the session is live.
    """
    session_id = session.pk if session is not None else None
    return {
        "membership": membership,
        "session": session,
        "is_lead": selectors.is_lead(membership),
        "session_live": session is not None and session.status == "live",
        "open": selectors.open_experiments(membership=membership, session_id=session_id),
    }


@register.inclusion_tag("inference/experiments/_recap.html")
def recap_experiments(session: Any) -> dict[str, Any]:
    experiments = selectors.attached_to_recap(session_id=session.pk)
    # The SVG was drawn by inference.experiment_chart from numbers, with every text escaped.
    return {"experiments": [(e, mark_safe(e.recap_svg)) for e in experiments]}  # noqa: S308
