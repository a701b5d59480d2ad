"""Office-hours pages: thin views over `cohort.office_hours.services` (writes) and `cohort.office_hours.selectors` (reads).

Every view finds the membership first (a cohort the user is not in is a 404, a
lead page for a learner a 403), then looks the session up inside that cohort,
so another cohort's session number is simply not found.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from cohort.access import lead_or_403, member_or_404
from cohort.htmx import is_htmx
from cohort.models import Membership, OfficeHoursSession, Role, SessionQuestion, SessionTopic
from cohort.office_hours import page_parts, selectors, services
from cohort.office_hours.access import session_or_404
from cohort.office_hours.forms import (
    AnswerForm,
    QuestionForm,
    RecapForm,
    SeriesForm,
    SessionForm,
    StatusForm,
    TopicForm,
)
from cohort.selectors import step_for
from cohort.web import form_add_errors

_TEMPLATES = "cohort/office_hours/"


def _topic_or_404(session: OfficeHoursSession, topic_id: int) -> SessionTopic:
    topic = selectors.topic_for(session=session, topic_id=topic_id)
    if topic is None:
        raise Http404("No such topic")
    return topic


def _question_or_404(session: OfficeHoursSession, question_id: int) -> SessionQuestion:
    question = selectors.question_for(session=session, question_id=question_id)
    if question is None:
        raise Http404("No such question")
    return question


def _own_question_or_404(session: OfficeHoursSession, membership: Membership, question_id: int) -> SessionQuestion:
    question = selectors.own_question_for(session=session, author=membership, question_id=question_id)
    if question is None:
        raise Http404("No such question")
    return question


def _context(membership: Membership, **extra: object) -> dict[str, object]:
    return {"membership": membership, "cohort": membership.cohort, **extra}


def _session_url(session: OfficeHoursSession, anchor: str = "") -> str:
    url = reverse("cohort:session", args=[session.cohort.slug, session.number])
    return f"{url}#{anchor}" if anchor else url


# --- Learner pages ----------------------------------------------------------------------


@login_required
def session_list(request: HttpRequest, cohort_slug: str) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    sessions = selectors.sessions_for_cohort(cohort=membership.cohort)
    return render(request, _TEMPLATES + "session_list.html", _context(membership, sessions=sessions))


def _render_session(
    request: HttpRequest,
    membership: Membership,
    session: OfficeHoursSession,
    *,
    form: QuestionForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    # The top questions only, unless the reader asked for all of them (the list keeps that through its forms).
    show_all = (request.POST.get("all") or request.GET.get("all")) == "1"
    questions = page_parts.questions_html(
        request, membership=membership, session=session, show_all=show_all, form=form, error=error
    )
    if is_htmx(request):
        return HttpResponse(questions, status=status)
    shared = page_parts.shared_parts(session=session, cohort=membership.cohort)
    context = _context(membership, session=session, questions=questions, shared=shared)
    return render(request, _TEMPLATES + "session_detail.html", context, status=status)


@login_required
def session_detail(request: HttpRequest, cohort_slug: str, number: int) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    return _render_session(request, membership, session_or_404(membership, number))


@login_required
@require_http_methods(["GET"])
def session_questions(request: HttpRequest, cohort_slug: str, number: int) -> HttpResponse:
    """Every question of the session, open and answered (the page shows the top ones): the questions section."""
    membership = member_or_404(request, cohort_slug)
    session = session_or_404(membership, number)
    if not is_htmx(request):
        return redirect(_session_url(session) + "?all=1#questions")
    return HttpResponse(page_parts.questions_html(request, membership=membership, session=session, show_all=True))


def _after_question_action(
    request: HttpRequest, membership: Membership, session: OfficeHoursSession, *, error: str = "", anchor: str = ""
) -> HttpResponse:
    """htmx gets the questions section back; a plain form post gets a redirect (and a message on error)."""
    if is_htmx(request):
        return _render_session(request, membership, session, error=error, status=400 if error else 200)
    if error:
        messages.error(request, error)
    if request.POST.get("all") == "1":
        return redirect(f"{_session_url(session)}?all=1#{anchor or 'questions'}")
    return redirect(_session_url(session, anchor or "questions"))


@login_required
@require_POST
def question_create(request: HttpRequest, cohort_slug: str, number: int) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    session = session_or_404(membership, number)
    form = QuestionForm(request.POST)
    if form.is_valid():
        try:
            question = services.question_post(session=session, author=membership, body=form.cleaned_data["body"])
        except ValidationError as exc:
            form_add_errors(form, exc)
        else:
            return _after_question_action(request, membership, session, anchor=f"question-{question.pk}")
    return _render_session(request, membership, session, form=form, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def question_edit(request: HttpRequest, cohort_slug: str, number: int, question_id: int) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    session = session_or_404(membership, number)
    question = _own_question_or_404(session, membership, question_id)
    form = QuestionForm(request.POST or None, initial={"body": question.body})
    if request.method == "POST" and form.is_valid():
        try:
            services.question_edit(question=question, author=membership, body=form.cleaned_data["body"])
        except ValidationError as exc:
            form_add_errors(form, exc)
        else:
            messages.success(request, "Question updated.")
            return redirect(_session_url(session, f"question-{question.pk}"))
    context = _context(membership, session=session, question=question, form=form)
    return render(request, _TEMPLATES + "question_form.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def question_delete(request: HttpRequest, cohort_slug: str, number: int, question_id: int) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    session = session_or_404(membership, number)
    question = _own_question_or_404(session, membership, question_id)
    try:
        services.question_delete(question=question, author=membership)
    except ValidationError as exc:
        return _after_question_action(request, membership, session, error=exc.messages[0])
    return _after_question_action(request, membership, session)


@login_required
@require_POST
def question_vote(request: HttpRequest, cohort_slug: str, number: int, question_id: int) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    session = session_or_404(membership, number)
    question = _question_or_404(session, question_id)
    try:
        if request.POST.get("withdraw"):
            services.question_withdraw_vote(question=question, voter=membership)
        else:
            services.question_upvote(question=question, voter=membership)
    except ValidationError as exc:
        return _after_question_action(request, membership, session, error=exc.messages[0])
    return _after_question_action(request, membership, session, anchor=f"question-{question.pk}")


# --- Lead: questions --------------------------------------------------------------------


@login_required
@require_POST
def question_answer(request: HttpRequest, cohort_slug: str, number: int, question_id: int) -> HttpResponse:
    membership = lead_or_403(request, cohort_slug)
    session = session_or_404(membership, number)
    question = _question_or_404(session, question_id)
    if request.POST.get("reopen"):
        services.question_reopen(question=question)
        return _after_question_action(request, membership, session, anchor=f"question-{question.pk}")
    form = AnswerForm(request.POST, session=session)
    if not form.is_valid():
        return _after_question_action(request, membership, session, error="Pick one of this session's topics.")
    services.question_mark_answered(question=question, topic=form.cleaned_data["topic"])
    return _after_question_action(request, membership, session, anchor=f"question-{question.pk}")


# --- Lead: sessions ---------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def session_create(request: HttpRequest, cohort_slug: str) -> HttpResponse:
    membership = lead_or_403(request, cohort_slug)
    form = SessionForm(request.POST or None, cohort=membership.cohort, initial={"leads": [request.user]})
    if request.method == "POST" and form.is_valid():
        try:
            session = services.session_create(cohort=membership.cohort, **form.cleaned_data)
        except ValidationError as exc:
            form_add_errors(form, exc)
        else:
            messages.success(request, f"Session {session.number} scheduled. Add its topics next.")
            return redirect("cohort:session_topics", cohort_slug=cohort_slug, number=session.number)
    context = _context(membership, form=form, heading="Schedule a session")
    return render(request, _TEMPLATES + "session_form.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def session_series(request: HttpRequest, cohort_slug: str) -> HttpResponse:
    membership = lead_or_403(request, cohort_slug)
    form = SeriesForm(request.POST or None, cohort=membership.cohort, initial={"leads": [request.user]})
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            sessions = services.session_create_series(
                cohort=membership.cohort, first_starts_at=data.pop("starts_at"), **data
            )
        except ValidationError as exc:
            form_add_errors(form, exc)
        else:
            messages.success(request, f"Sessions {sessions[0].number}–{sessions[-1].number} scheduled, one a week.")
            return redirect("cohort:sessions", cohort_slug=cohort_slug)
    context = _context(membership, form=form, heading="Schedule a weekly series")
    return render(request, _TEMPLATES + "session_form.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def session_edit(request: HttpRequest, cohort_slug: str, number: int) -> HttpResponse:
    membership = lead_or_403(request, cohort_slug)
    session = session_or_404(membership, number)
    form = SessionForm(request.POST or None, cohort=membership.cohort, session=session)
    if request.method == "POST" and form.is_valid():
        try:
            services.session_update(session=session, **form.cleaned_data)
        except ValidationError as exc:
            form_add_errors(form, exc)
        else:
            messages.success(request, f"Session {session.number} saved.")
            return redirect(_session_url(session))
    context = _context(membership, session=session, form=form, heading=f"Edit session {session.number}")
    return render(request, _TEMPLATES + "session_form.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def session_status(request: HttpRequest, cohort_slug: str, number: int) -> HttpResponse:
    membership = lead_or_403(request, cohort_slug)
    session = session_or_404(membership, number)
    form = StatusForm(request.POST)
    if form.is_valid():
        services.session_set_status(session=session, status=form.cleaned_data["status"])
        messages.success(request, f"Session {session.number} is now {session.get_status_display().lower()}.")
    else:
        messages.error(request, "Unknown session status.")
    return redirect(_session_url(session))


# --- Lead: topics -----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def session_topics(request: HttpRequest, cohort_slug: str, number: int) -> HttpResponse:
    membership = lead_or_403(request, cohort_slug)
    session = session_or_404(membership, number)
    form = TopicForm(request.POST or None, session=session)
    if request.method == "POST" and form.is_valid():
        try:
            topic = services.topic_create(session=session, **form.cleaned_data)
        except ValidationError as exc:
            form_add_errors(form, exc)
        else:
            messages.success(request, f"Topic {topic.position} added.")
            return redirect("cohort:session_topics", cohort_slug=cohort_slug, number=number)
    topics = session.topics.select_related("step").order_by("position")
    context = _context(membership, session=session, topics=topics, form=form)
    return render(request, _TEMPLATES + "topics.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def topic_edit(request: HttpRequest, cohort_slug: str, number: int, topic_id: int) -> HttpResponse:
    membership = lead_or_403(request, cohort_slug)
    session = session_or_404(membership, number)
    topic = _topic_or_404(session, topic_id)
    form = TopicForm(request.POST or None, session=session, topic=topic)
    if request.method == "POST" and form.is_valid():
        try:
            services.topic_update(topic=topic, **form.cleaned_data)
        except ValidationError as exc:
            form_add_errors(form, exc)
        else:
            messages.success(request, f"Topic {topic.position} saved.")
            return redirect("cohort:session_topics", cohort_slug=cohort_slug, number=number)
    context = _context(membership, session=session, topic=topic, form=form)
    return render(request, _TEMPLATES + "topic_form.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def topic_delete(request: HttpRequest, cohort_slug: str, number: int, topic_id: int) -> HttpResponse:
    membership = lead_or_403(request, cohort_slug)
    session = session_or_404(membership, number)
    topic = _topic_or_404(session, topic_id)
    services.topic_delete(topic=topic)
    messages.success(request, f"Topic “{topic.title}” removed.")
    return redirect("cohort:session_topics", cohort_slug=cohort_slug, number=number)


# --- Recaps -----------------------------------------------------------------------------

_RECAP_ACTIONS = {"save": None, "publish": True, "unpublish": False}


@login_required
@require_http_methods(["GET", "POST"])
def recap_edit(request: HttpRequest, cohort_slug: str, number: int) -> HttpResponse:
    membership = lead_or_403(request, cohort_slug)
    session = session_or_404(membership, number)
    form = RecapForm(request.POST or None, initial={"recap_markdown": session.recap_markdown})
    action = request.POST.get("action", "save")
    if request.method == "POST" and action in _RECAP_ACTIONS and form.is_valid():
        try:
            services.recap_save(
                session=session, recap_markdown=form.cleaned_data["recap_markdown"], publish=_RECAP_ACTIONS[action]
            )
        except ValidationError as exc:
            form_add_errors(form, exc)
        else:
            messages.success(request, "Recap published." if session.recap_is_published else "Recap saved as a draft.")
            return redirect("cohort:recap_edit", cohort_slug=cohort_slug, number=number)
    context = _context(membership, session=session, form=form)
    return render(request, _TEMPLATES + "recap_form.html", context, status=400 if form.errors else 200)


@login_required
def recap_detail(request: HttpRequest, cohort_slug: str, number: int) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    session = session_or_404(membership, number)
    # Leads preview their draft here; everyone else sees a recap once it is published.
    if not session.recap_is_published and not (membership.role == Role.LEAD and session.recap_markdown):
        raise Http404("This recap is not published yet")
    page = selectors.session_page(session=session, viewer=membership)
    return render(request, _TEMPLATES + "recap_detail.html", _context(membership, session=session, page=page))


@login_required
def recap_list(request: HttpRequest, cohort_slug: str) -> HttpResponse:
    membership = member_or_404(request, cohort_slug)
    step_slug = request.GET.get("step", "")
    step = step_for(cohort=membership.cohort, step_slug=step_slug, with_resources=False) if step_slug else None
    steps = selectors.recap_steps(cohort=membership.cohort)
    search = request.GET.get("q", "").strip()[:100]
    recaps = selectors.published_recaps(cohort=membership.cohort, step=step, search=search)
    context = _context(membership, recaps=recaps, steps=steps, step=step, q=search)
    return render(request, _TEMPLATES + "recap_list.html", context)
