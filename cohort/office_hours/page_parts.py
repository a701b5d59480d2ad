"""The session page's cached parts: its questions section per viewer, and what every viewer sees alike.

Rendering the questions (and reading the leads, topics and questions) was most
of the page's time on every view, though they change only when someone asks,
votes, answers or edits. Both parts are kept by table stamps
(`config.table_versions`): any write to a table they read renders them anew
on the next view, whatever wrote it. The view checks membership and finds the
session before either is looked up, and the parts are rendered without the
request, so nothing of one request (messages, the CSRF token) is cached; the
questions' forms get each viewer's own token (`form_fragment`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from cohort.models import (
    Cohort,
    Membership,
    OfficeHoursSession,
    QuestionVote,
    RoadmapStep,
    SessionQuestion,
    SessionTopic,
    User,
)
from cohort.office_hours import selectors
from cohort.office_hours.forms import QuestionForm
from config.table_versions import cached, form_fragment, time_bucket

_TEMPLATES = "cohort/office_hours/"

# Every table the questions section reads (`selectors.session_page` and _questions.html): the session's
# topics and their steps, the questions, votes and authors. Not the session's own row: the view has read it,
# and the section shows only its status (whether it takes questions), which is in the key. The row is
# written on every RSVP, check-in and help request (`live_version`); its stamp would evict every viewer's
# section all through a live session.
QUESTIONS_TABLES = (SessionTopic, RoadmapStep, SessionQuestion, QuestionVote, Membership, User)

# Every table the shared parts read: the session row (the calendar links carry its times and meeting link),
# its leads, its topics and their steps, the cohort (its time zone and name in the calendar event).
SHARED_TABLES = (
    OfficeHoursSession,
    OfficeHoursSession.leads.through,
    User,
    SessionTopic,
    RoadmapStep,
    Cohort,
)


def questions_html(
    request: HttpRequest,
    *,
    membership: Membership,
    session: OfficeHoursSession,
    show_all: bool,
    form: QuestionForm | None = None,
    error: str = "",
) -> SafeString:
    """The questions section as `membership` sees it: the top questions, or all of them with `show_all`.

    Personal (their votes, "(you)", edit and delete on their own, a lead's answer
    forms), so keyed by the viewer's membership; keyed by the minute too, for the
    "5 minutes ago" of each question. A refused post (the form's errors, an error
    line) is this request's own and is rendered, not cached.
    """
    cohort = membership.cohort

    def render_questions(csrf_token: str) -> str:
        limit = None if show_all else selectors.TOP_QUESTIONS
        context = {
            "membership": membership,
            "cohort": cohort,
            "session": session,
            "page": selectors.session_page(session=session, viewer=membership, question_limit=limit),
            "form": form or QuestionForm(),
            "error": error,
            "csrf_token": csrf_token,
        }
        return render_to_string(_TEMPLATES + "_questions.html", context)

    if form is not None or error:
        return mark_safe(render_questions(get_token(request)))  # noqa: S308 - our own template's output
    return form_fragment(
        request,
        "session-questions:v1",
        tables=QUESTIONS_TABLES,
        key=[
            session.pk,
            session.number,
            session.status,
            cohort.slug,
            membership.pk,
            membership.role,
            show_all,
            get_language(),
            timezone.get_current_timezone_name(),  # the questions' <time datetime> attributes
            time_bucket(),
        ],
        render=render_questions,
    )


@dataclass(frozen=True)
class SharedParts:
    # render_to_string's output: escaped when rendered, and marked safe (a SafeString pickles as one).
    led_by: SafeString  # the header's "Led by …" line
    topics: SafeString  # the topics section
    calendar: SafeString  # the "Add to calendar" panel (nothing once the session has ended)


def shared_parts(*, session: OfficeHoursSession, cohort: Cohort) -> SharedParts:
    """The parts of the session page every viewer sees alike, cached until a table they read is written.

    Nothing in them depends on the viewer: no times (the header's time, in the
    viewer's zone, is rendered with the page), no forms, no role.
    """

    def render_parts() -> SharedParts:
        info = selectors.session_info(session=session)
        context = {"session": session, "cohort": cohort, "leads": info.leads, "topics": info.topics}
        return SharedParts(
            led_by=render_to_string(_TEMPLATES + "_session_header.html#led-by", context),
            topics=render_to_string(_TEMPLATES + "_session_topics.html", context),
            calendar=render_to_string(_TEMPLATES + "_session_calendar.html", context),
        )

    return cached(
        "session-shared:v1", tables=SHARED_TABLES, key=[session.pk, cohort.slug, get_language()], compute=render_parts
    )
