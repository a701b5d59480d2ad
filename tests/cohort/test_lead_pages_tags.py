"""The lead tables' row tags build HTML without format_html (its cost per row added up): same output, same escaping."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from django.contrib.humanize.templatetags.humanize import naturaltime
from django.template import Context
from django.template.defaultfilters import date as date_filter
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from cohort.models import ProgressStatus
from cohort.selectors import StepWithProgress
from cohort.templatetags import lead_pages


def _member(pk: int, name: str):  # type: ignore[no-untyped-def]
    return SimpleNamespace(pk=pk, user=SimpleNamespace(display_name=name))


def test_learner_link_escapes_the_name_as_format_html_did():
    cohort = SimpleNamespace(slug="cohort-a")
    name = '<script>alert("x")</script> & O\'Neil'

    link = lead_pages.learner_link(Context(), cohort, _member(7, name), "learner-name")

    assert link == format_html('<a class="{}" href="{}">{}</a>', "learner-name", "/c/cohort-a/lead/learners/7/", name)
    assert "<script>" not in link
    assert lead_pages.learner_link(Context(), cohort, _member(7, name)) == format_html(
        '<a href="{}">{}</a>', "/c/cohort-a/lead/learners/7/", name
    )


def test_escape_leaves_safe_strings_alone_like_conditional_escape():
    assert lead_pages._esc(mark_safe("<b>ok</b>")) == "<b>ok</b>"
    assert lead_pages._esc("<b>no</b>") == "&lt;b&gt;no&lt;/b&gt;"


def test_progress_cells_are_the_precomputed_cells_of_each_status():
    steps = [StepWithProgress(step=None, status=s) for s in ProgressStatus]  # type: ignore[arg-type]

    cells = lead_pages.progress_cells(steps)

    expected = "".join(format_html(lead_pages._CELL, s.value, s.label) for s in ProgressStatus)
    assert cells == expected
    # An unknown status is still escaped, not trusted.
    odd = lead_pages.progress_cells([StepWithProgress(step=None, status="<x>")])  # type: ignore[arg-type]
    assert "&lt;x&gt;" in odd and "<x>" not in odd


def test_last_activity_matches_the_template_it_replaced():
    when = timezone.now() - dt.timedelta(hours=3, minutes=5)

    cell = lead_pages.last_activity(when)

    assert cell == f'<time datetime="{date_filter(when, "c")}">{naturaltime(when)}</time>'
    assert lead_pages.last_activity(None) == '<span class="muted">never</span>'


def test_time_tag_escapes_and_formats_in_the_zone():
    when = dt.datetime(2026, 3, 13, 17, 0, tzinfo=dt.UTC)

    tag = lead_pages.time_tag(when, "Europe/Paris")

    assert tag == '<time datetime="2026-03-13T17:00:00+00:00">Fri 13 Mar, 18:00 CET</time>'
    assert lead_pages.time_tag(None, "UTC") == ""
