"""Check-in pieces other pages include: the learner's card (dashboard, step page) and the lead navigation links."""

from __future__ import annotations

from collections.abc import Callable

from django import template
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.translation import get_language

from cohort.check_ins import services as check_ins
from cohort.check_ins import stuck
from cohort.check_ins.forms import CheckInPostForm
from cohort.models import CheckIn, Cohort, Membership, RoadmapStep, Role, StepProgress, User
from cohort.selectors import Roadmap
from config.table_versions import form_fragment, fragment

register = template.Library()

CARD_RECENT = 3


@register.inclusion_tag("cohort/check_ins/_card.html", takes_context=True)
def check_in_card(
    context: template.Context, membership: Membership, roadmap: Roadmap | None = None, step: RoadmapStep | None = None
) -> dict[str, object]:
    """The compact check-in form and the learner's latest check-ins: one query, none for leads and mentors.

    On the dashboard (`roadmap`) the learner picks a step, the current one
    first; on a step page (`step`) the card is about that step. The dashboard
    uses the cached `check_in_card_html` instead.
    """
    request = context.get("request")
    next_url = request.get_full_path() if request else ""
    return _card_context(membership, next_url, context.get("csrf_token"), roadmap=roadmap, step=step)


def _card_context(
    membership: Membership,
    next_url: str,
    csrf_token: object,
    *,
    roadmap: Roadmap | None = None,
    step: RoadmapStep | None = None,
) -> dict[str, object]:
    base = {"cohort": membership.cohort, "membership": membership, "csrf_token": csrf_token}
    if membership.role != Role.LEARNER:
        return {**base, "show": False}
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
        "next_url": next_url,
    }


# Every table the dashboard's card reads: the steps and the learner's progress (the step
# choices, the current one selected), the own check-ins and who resolved them.
CARD_TABLES = (RoadmapStep, StepProgress, CheckIn, User)


def check_in_card_html(request: HttpRequest, *, membership: Membership, roadmap: Callable[[], Roadmap]) -> SafeString:
    """The dashboard's check-in card, cached until a table it reads is written; nothing for leads and mentors.

    Only the unbound form is ever shown here (a refused post renders the check-ins
    page), so the HTML is the same on every view until a check-in, a step or the
    progress changes; each response gets the viewer's own CSRF token (`form_fragment`).
    Keyed by the membership, the cohort's slug and time zone (the check-ins' times),
    the language and the page it returns to after posting.
    """
    if membership.role != Role.LEARNER:
        return SafeString("")
    next_url = request.path  # not the query string: a key part anyone could vary at will

    def render_card(csrf_token: str) -> str:
        context = _card_context(membership, next_url, csrf_token, roadmap=roadmap())
        context["stylesheet_in_head"] = True  # the dashboard links it, so no static URL is cached
        return render_to_string("cohort/check_ins/_card.html", context)

    return form_fragment(
        request,
        "dashboard-check-in-card:v1",
        tables=CARD_TABLES,
        key=[membership.pk, membership.cohort.slug, membership.cohort.timezone, get_language(), next_url],
        render=render_card,
    )


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
