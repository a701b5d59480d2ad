"""Check-in pieces other pages include: the learner's card (dashboard, step page) and the lead navigation links."""

from __future__ import annotations

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from cohort.check_ins import services as check_ins
from cohort.check_ins import stuck
from cohort.check_ins.forms import CheckInPostForm
from cohort.models import CheckIn, Cohort, Membership, RoadmapStep, Role
from cohort.selectors import Roadmap
from config.table_versions import fragment

register = template.Library()

CARD_RECENT = 3


@register.inclusion_tag("cohort/check_ins/_card.html", takes_context=True)
def check_in_card(
    context: template.Context, membership: Membership, roadmap: Roadmap | None = None, step: RoadmapStep | None = None
) -> dict[str, object]:
    """The compact check-in form and the learner's latest check-ins: one query, none for leads and mentors.

    On the dashboard (`roadmap`) the learner picks a step, the current one
    first; on a step page (`step`) the card is about that step.
    """
    base = {"cohort": membership.cohort, "membership": membership, "csrf_token": context.get("csrf_token")}
    if membership.role != Role.LEARNER:
        return {**base, "show": False}
    request = context.get("request")
    current: RoadmapStep | None
    if step is not None:
        steps, current = [step], step
    else:
        steps = [item.step for item in roadmap.steps] if roadmap else []
        current = roadmap.current.step if roadmap and roadmap.current else None
    recent = check_ins.own_check_ins(membership=membership, step=step, limit=CARD_RECENT)
    return {
        **base,
        "show": bool(steps),
        "form": CheckInPostForm(steps=steps, current=current, auto_id="check-in-%s"),
        "fixed_step": step,
        "recent": recent,
        "next_url": request.get_full_path() if request else "",
    }


# The tables `stuck.open_blocker_count` reads.
LEAD_NAV_TABLES = (CheckIn, Membership)


@register.simple_tag
def lead_check_in_links(cohort: Cohort) -> SafeString:
    """“Who is stuck” with the number of learners who have an open blocker, and the agenda builder.

    On every lead page, so cached until a check-in or a membership is written: one query cold, none warm.
    """

    def render_links() -> str:
        context = {"cohort": cohort, "blocked": stuck.open_blocker_count(cohort=cohort)}
        return render_to_string("cohort/check_ins/_lead_nav_links.html", context)

    return fragment("lead-nav-links:v1", tables=LEAD_NAV_TABLES, key=[cohort.pk, cohort.slug], render=render_links)
