"""Experiment cards and recap charts for cohort pages (the cohort app loads these tags, never imports inference)."""

from __future__ import annotations

import hashlib
from typing import Any

from django import template
from django.core.cache import cache
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

from config import table_versions
from inference import experiment_selectors as selectors
from inference.models import Experiment, ExperimentRun
from inference.templatetags.sandbox_tags import visible

register = template.Library()


# Every table `selectors.open_experiments` reads.
CARDS_TABLES = (Experiment, ExperimentRun)


@register.simple_tag(takes_context=True)
def experiment_cards(context: template.Context, membership: Any, session: Any = None) -> str:
    """Open experiments of the cohort (of the session, on a session page) with a one-click run for each.

    On a session page a lead also gets "Start an experiment" while the session is live.
    Cached until an experiment or a run is written (started, closed, reopened, a run
    by anyone: the viewer's runs left); each response gets the viewer's own CSRF token.
    Keyed by the viewer's membership and role, the cohort, the session and its state.
    """
    session_id = session.pk if session is not None else None
    session_live = session is not None and session.status == "live"
    is_lead = selectors.is_lead(membership)

    def render_cards(csrf_token: object) -> str:
        cards = {
            "membership": membership,
            "session": session,
            "is_lead": is_lead,
            "session_live": session_live,
            "open": selectors.open_experiments(membership=membership, session_id=session_id),
            "csrf_token": csrf_token,
        }
        return render_to_string("inference/experiments/_cards.html", cards)

    request = context.get("request")
    if request is None:  # rendered without a request: no token to put in, so no cache either
        return render_cards(context.get("csrf_token"))
    key = [
        membership.pk,
        membership.cohort_id,
        membership.cohort.slug,
        is_lead,
        session_id,
        session.number if session is not None else None,
        session_live,
        get_language(),
    ]
    return table_versions.form_fragment(
        request, "experiment-cards:v1", tables=CARDS_TABLES, key=key, render=render_cards
    )


@register.inclusion_tag("inference/experiments/_recap.html")
def recap_experiments(session: Any) -> dict[str, Any]:
    experiments = selectors.attached_to_recap(session_id=session.pk)
    # The SVG was drawn by inference.experiment_chart from numbers, with every text escaped.
    return {"experiments": [(e, mark_safe(e.recap_svg)) for e in experiments]}  # noqa: S308


# Bump when _arm.html or _arms.html changes: HTML cached from the old templates is then never read.
ARMS_HTML_VERSION = 1
_ARMS_HTML_TIMEOUT = 60 * 60 * 6  # the key names the content, so this only bounds the cache's size


@register.simple_tag
def experiment_arms(arms: list[dict[str, Any]]) -> str:
    """The arms' panels, cached under a digest of the numbers they show.

    The HTML is a function of `arms` alone (and the language the filters format
    numbers in), so a key derived from their content can never serve a stale
    panel; while nothing changes, the projected page and every learner's view
    skip rendering three arms' tables (most of the page's template time).
    """
    content = repr((ARMS_HTML_VERSION, get_language(), arms)).encode()
    key = f"experiment-arms-html:{hashlib.blake2b(content, digest_size=16).hexdigest()}"
    html: str | None = cache.get(key)
    if html is None:
        html = render_to_string("inference/experiments/_arms.html", {"arms": arms})
        cache.set(key, html, _ARMS_HTML_TIMEOUT)
    return mark_safe(html)  # noqa: S308 - our own template's output, escaped when it was rendered


@register.simple_tag
def experiment_run_rows(experiment: Any) -> str:
    """The lead's table of individual runs (rows of <tbody>), cached until a table the rows read is written.

    Rendering 200 rows was most of the projected page's time, on every view; the
    HTML is now kept by table stamps (config.table_versions.fragment) over the same
    tables as `lead_runs`, so a view with nothing new reads no rows and renders none.
    static/js/experiment.js builds the same rows from the lead's poll.
    """
    return table_versions.fragment(
        f"experiment-run-rows:v{selectors.LEAD_RUNS_VERSION}",
        tables=selectors.LEAD_RUNS_TABLES,
        key=selectors.lead_key(experiment),
        render=lambda: run_rows_html(selectors.lead_runs(experiment=experiment)),
    )


def run_rows_html(runs: list[dict[str, Any]]) -> str:
    """The rows in one pass: a template loop over 200 runs (a reverse() and five filters each) was slow.

    static/js/experiment.js (runRow) builds the same markup from the lead's poll; `data-run` is how it
    finds a row to update in place."""
    base = reverse("inference:run_page", args=[0]).replace("/0/", "/{}/")

    def short(text: str) -> str:
        return text if len(text) <= 80 else text[:79] + "…"

    rows = [
        f'<tr data-run="{int(run["run"])}"><td><a href="{escape(base.format(int(run["run"])))}">#{int(run["run"])}</a></td>'
        f"<td>{escape(run['learner'])}</td><td>{float(run['temperature']):g}</td>"
        f"<td>{escape(run['status'])}</td><td><code>{escape(visible(run['first_token']))}</code></td>"
        f"<td>{escape(short(run['output']))}</td></tr>"
        for run in runs
    ]
    return "".join(rows)  # every value above is escaped or a number
