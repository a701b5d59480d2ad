"""Check-ins: the rules in cohort/check_ins/services.py, the learner pages, and the email to the leads."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cohort.check_ins import services as check_ins
from cohort.check_ins.tasks import notify_blocked_check_in, sweep_blocked_check_ins
from cohort.models import CHECK_IN_TEXT_MAX_CHARS, CheckIn, CheckInStatus, Membership, Role, StepProgress
from cohort.services import progress_focus_step
from tests.factories import CohortFactory, MembershipFactory, StepFactory, UserFactory
from tests.helpers import queued
from tests.worker import wait_for

pytestmark = pytest.mark.django_db

BLOCKED = CheckInStatus.BLOCKED
ON_TRACK = CheckInStatus.ON_TRACK


def _post(world, *, user=None, client=None, **data):  # type: ignore[no-untyped-def]
    payload = {"step": "step-1", "status": ON_TRACK, "done_text": "", "next_text": "", "blocker_text": ""}
    payload.update(data)
    client = client or world.client_for(user or world.alice)
    return client.post(reverse("cohort:check_in_create", args=[world.cohort.slug]), payload)


def _blocked(membership: Membership, step, text: str = "llama.cpp wheel fails to build", **extra) -> CheckIn:  # type: ignore[no-untyped-def]
    return check_ins.check_in_post(membership=membership, step=step, status=BLOCKED, blocker_text=text, **extra)


class FailingBackend(BaseEmailBackend):
    """An SMTP server that is down."""

    def send_messages(self, email_messages):  # type: ignore[no-untyped-def]
        raise ConnectionRefusedError("SMTP server down")


@pytest.fixture
def second_lead(world) -> Membership:
    return MembershipFactory(cohort=world.cohort, role=Role.LEAD, user=UserFactory(email="lead2@example.com"))


@pytest.fixture
def mentor(world) -> Membership:
    return MembershipFactory(cohort=world.cohort, role=Role.MENTOR, user=UserFactory(email="mentor@example.com"))


# --- Rules --------------------------------------------------------------------------------


def test_check_in_post_on_track_is_recorded_and_counts_as_activity(world):
    at = timezone.now() - dt.timedelta(minutes=5)

    check_in = check_ins.check_in_post(
        membership=world.alice_membership, step=world.steps[1], status=ON_TRACK, done_text=" Tokenizer read ", at=at
    )

    assert (check_in.status, check_in.done_text, check_in.step) == (ON_TRACK, "Tokenizer read", world.steps[1])
    world.alice_membership.refresh_from_db()
    assert world.alice_membership.last_activity_at == at
    progress = StepProgress.objects.get(membership=world.alice_membership, step=world.steps[1])
    assert progress.started_at == at


def test_check_in_post_blocked_without_blocker_text_refused(world):
    with pytest.raises(ValidationError) as exc:
        check_ins.check_in_post(
            membership=world.alice_membership, step=world.steps[0], status=BLOCKED, done_text="x", blocker_text="  "
        )

    assert "blocker_text" in exc.value.message_dict
    assert not CheckIn.objects.exists()


def test_check_in_post_empty_refused(world):
    with pytest.raises(ValidationError):
        check_ins.check_in_post(membership=world.alice_membership, step=world.steps[0], status=ON_TRACK)

    assert not CheckIn.objects.exists()


@pytest.mark.parametrize("field", ["done_text", "next_text", "blocker_text"])
def test_check_in_post_oversized_text_refused(world, field):
    texts = {"done_text": "ok", field: "x" * (CHECK_IN_TEXT_MAX_CHARS + 1)}

    with pytest.raises(ValidationError) as exc:
        check_ins.check_in_post(membership=world.alice_membership, step=world.steps[0], status=BLOCKED, **texts)

    assert field in exc.value.message_dict
    assert not CheckIn.objects.exists()


def test_check_in_post_on_track_with_blocker_text_refused(world):
    with pytest.raises(ValidationError) as exc:
        check_ins.check_in_post(
            membership=world.alice_membership, step=world.steps[0], status=ON_TRACK, blocker_text="stuck"
        )

    assert "blocker_text" in exc.value.message_dict


def test_check_in_post_on_step_of_another_cohort_refused(world):
    other_step = StepFactory(cohort=Membership.objects.get(user=world.outsider).cohort, position=1)

    with pytest.raises(ValidationError):
        check_ins.check_in_post(membership=world.alice_membership, step=other_step, status=ON_TRACK, done_text="x")


def test_check_in_post_by_lead_refused(world):
    lead = Membership.objects.get(user=world.lead, cohort=world.cohort)

    with pytest.raises(PermissionDenied):
        check_ins.check_in_post(membership=lead, step=world.steps[0], status=ON_TRACK, done_text="x")


def test_on_track_check_in_resolves_own_open_blockers_of_that_step_only(world):
    step1, step2 = world.steps[0], world.steps[1]
    first = _blocked(world.alice_membership, step1, "pip fails")
    second = _blocked(world.alice_membership, step1, "and git push is rejected")
    other_step = _blocked(world.alice_membership, step2, "no GGUF file")
    bobs = _blocked(world.bob_membership, step1, "bob is stuck too")

    check_ins.check_in_post(membership=world.alice_membership, step=step1, status=ON_TRACK, done_text="fixed it")

    for row in (first, second, other_step, bobs):
        row.refresh_from_db()
    assert first.resolved_at and second.resolved_at
    assert first.resolved_by == world.alice
    assert other_step.resolved_at is None
    assert bobs.resolved_at is None


def test_check_in_resolve_by_lead_records_who_and_only_once(world):
    blocker = _blocked(world.alice_membership, world.steps[0])

    first = check_ins.check_in_resolve(check_in=blocker, by=world.lead)
    second = check_ins.check_in_resolve(check_in=blocker, by=world.alice)

    blocker.refresh_from_db()
    assert (first, second) == (True, False)
    assert blocker.resolved_by == world.lead
    assert blocker.resolved_at is not None


def test_check_in_resolve_refuses_on_track_check_in(world):
    check_in = check_ins.check_in_post(
        membership=world.alice_membership, step=world.steps[0], status=ON_TRACK, done_text="x"
    )

    with pytest.raises(ValidationError):
        check_ins.check_in_resolve(check_in=check_in, by=world.lead)


# --- Email to the leads ---------------------------------------------------------------------


def test_blocked_check_in_queues_one_email_task_after_commit(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _blocked(world.alice_membership, world.steps[0])

    assert len(queued(callbacks)) == 1


def test_on_track_check_in_queues_no_email_and_the_sweep_sends_none(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        on_track = check_ins.check_in_post(
            membership=world.alice_membership,
            step=world.steps[0],
            status=ON_TRACK,
            done_text="x",
            at=timezone.now() - dt.timedelta(minutes=10),
        )

    assert queued(callbacks) == []
    assert sweep_blocked_check_ins.run() == 0
    assert notify_blocked_check_in.run(check_in_id=on_track.pk) is False
    assert mail.outbox == []


def test_blocked_email_sent_once_to_the_leads_when_task_runs_twice(world, second_lead, mentor):
    blocker = _blocked(
        world.alice_membership, world.steps[1], "ImportError: libllama.so not found", done_text="Built the wheel"
    )

    first = notify_blocked_check_in.run(check_in_id=blocker.pk)
    second = notify_blocked_check_in.run(check_in_id=blocker.pk)

    assert (first, second) == (True, False)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert sorted(message.to) == sorted([world.lead.email, "lead2@example.com"])  # leads, not mentors
    assert "Alice" in message.subject and "Step 2" in message.subject
    assert "ImportError: libllama.so not found" in message.body
    assert "Built the wheel" in message.body
    assert reverse("cohort:lead_stuck", args=[world.cohort.slug]) in message.body
    blocker.refresh_from_db()
    assert blocker.leads_notified_at is not None


def test_blocked_email_shows_time_in_cohort_timezone(world):
    world.cohort.timezone = "Asia/Tokyo"
    world.cohort.save(update_fields=["timezone"])
    at = dt.datetime(2026, 3, 13, 8, 30, tzinfo=dt.UTC)
    blocker = _blocked(world.alice_membership, world.steps[0], at=at)

    notify_blocked_check_in.run(check_in_id=blocker.pk)

    assert "17:30 JST" in mail.outbox[0].body


def test_blocked_email_not_sent_once_resolved(world):
    blocker = _blocked(world.alice_membership, world.steps[0])
    check_ins.check_in_post(membership=world.alice_membership, step=world.steps[0], status=ON_TRACK, done_text="ok")

    assert notify_blocked_check_in.run(check_in_id=blocker.pk) is False
    assert mail.outbox == []


def test_blocked_email_name_with_newline_still_sends_one_line_subject(world):
    world.alice.name = "Alice\nBcc: victim@example.com"
    world.alice.save(update_fields=["name"])
    blocker = _blocked(world.alice_membership, world.steps[0])

    notify_blocked_check_in.run(check_in_id=blocker.pk)

    assert "\n" not in mail.outbox[0].subject
    assert mail.outbox[0].to == [world.lead.email]


def test_blocked_email_failed_send_releases_claim_and_sweep_sends_later(world, settings):
    blocker = _blocked(world.alice_membership, world.steps[0], at=timezone.now() - dt.timedelta(minutes=10))
    settings.MAILERS = {"default": {"BACKEND": "tests.cohort.check_ins.test_check_ins.FailingBackend"}}

    with pytest.raises(OSError):
        notify_blocked_check_in.run(check_in_id=blocker.pk)
    blocker.refresh_from_db()
    assert blocker.leads_notified_at is None

    assert sweep_blocked_check_ins.run() == 0  # still down: the sweep gives up for now, claims nothing
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    assert sweep_blocked_check_ins.run() == 1
    assert sweep_blocked_check_ins.run() == 0
    assert len(mail.outbox) == 1


def test_sweep_sends_lost_blocker_emails_once_and_leaves_fresh_ones_to_their_task(world):
    now = timezone.now()
    _blocked(world.alice_membership, world.steps[0], "lost task", at=now - dt.timedelta(minutes=10))
    fresh = _blocked(world.bob_membership, world.steps[0], "just posted", at=now - dt.timedelta(seconds=20))
    ancient = _blocked(world.bob_membership, world.steps[1], "last month", at=now - dt.timedelta(days=30))
    sent_already = _blocked(world.alice_membership, world.steps[1], "sent", at=now - dt.timedelta(minutes=10))
    notify_blocked_check_in.run(check_in_id=sent_already.pk)
    mail.outbox.clear()

    first = sweep_blocked_check_ins.run()
    second = sweep_blocked_check_ins.run()

    assert (first, second) == (1, 0)
    assert len(mail.outbox) == 1
    assert "lost task" in mail.outbox[0].body
    fresh.refresh_from_db()
    ancient.refresh_from_db()
    assert fresh.leads_notified_at is None and ancient.leads_notified_at is None


# --- Pages -----------------------------------------------------------------------------------


def test_dashboard_shows_check_in_card_with_current_step_preselected(world):
    check_ins.check_in_post(membership=world.alice_membership, step=world.steps[0], status=ON_TRACK, done_text="a")
    progress_focus_step(membership=world.alice_membership, step=world.steps[1])

    response = world.client_for(world.alice).get(reverse("cohort:dashboard", args=[world.cohort.slug]))

    body = response.content.decode()
    assert 'id="check-in"' in body
    assert '<option value="step-2" selected>' in body
    assert "Your latest check-ins" in body


def test_dashboard_of_lead_has_no_check_in_card(world):
    response = world.client_for(world.lead).get(reverse("cohort:dashboard", args=[world.cohort.slug]))

    assert 'id="check-in"' not in response.content.decode()


def test_step_page_card_checks_in_on_that_step(world):
    url = reverse("cohort:step", args=[world.cohort.slug, "step-3"])

    page = world.client_for(world.alice).get(url)
    response = _post(world, step="step-3", status=ON_TRACK, next_text="read the chapter", next=url)

    assert '<input type="hidden" name="step" value="step-3">' in page.content.decode()
    assert response.status_code == 302 and response.url == url
    assert CheckIn.objects.get().step == world.steps[2]


def test_check_in_post_redirects_back_with_a_message(world):
    dashboard = reverse("cohort:dashboard", args=[world.cohort.slug])
    client = world.client_for(world.alice)

    response = _post(world, client=client, status=BLOCKED, blocker_text="git push rejected", next=dashboard)

    assert response.status_code == 302 and response.url == dashboard
    page = client.get(dashboard)
    assert "Your leads have been told you are blocked." in page.content.decode()
    assert "git push rejected" in page.content.decode()
    assert CheckIn.objects.get().is_open_blocker


def test_check_in_post_ignores_next_to_another_site(world):
    response = _post(world, done_text="x", next="https://evil.example/steal")

    assert response.status_code == 302
    assert response.url == reverse("cohort:check_ins", args=[world.cohort.slug])


@pytest.mark.parametrize(
    ("data", "field_error"),
    [
        pytest.param(
            {"status": BLOCKED, "done_text": "did things"}, "Say what is blocking you", id="blocked-no-blocker"
        ),
        pytest.param({}, "Write at least one line", id="empty"),
        pytest.param({"done_text": "x" * (CHECK_IN_TEXT_MAX_CHARS + 1)}, "Keep it under", id="oversized"),
        pytest.param({"status": "panicking", "done_text": "x"}, "Choose", id="bad-status"),
        pytest.param({"step": "no-such-step", "done_text": "x"}, "Select a valid choice", id="bad-step"),
    ],
)
def test_check_in_post_invalid_is_400_with_the_error_and_nothing_saved(world, data, field_error):
    response = _post(world, **data)

    assert response.status_code == 400
    assert field_error in response.content.decode()
    assert not CheckIn.objects.exists()


def test_check_in_post_step_of_another_cohort_is_400(world):
    StepFactory(cohort=Membership.objects.get(user=world.outsider).cohort, position=9, slug="foreign-step")

    response = _post(world, step="foreign-step", done_text="x")

    assert response.status_code == 400
    assert not CheckIn.objects.exists()


def test_check_in_post_without_csrf_token_is_403(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.alice)

    response = client.post(
        reverse("cohort:check_in_create", args=[world.cohort.slug]),
        {"step": "step-1", "status": ON_TRACK, "done_text": "x"},
    )

    assert response.status_code == 403
    assert not CheckIn.objects.exists()


def test_check_in_post_anonymous_goes_to_login(world):
    client = Client()

    response = client.post(reverse("cohort:check_in_create", args=[world.cohort.slug]), {"done_text": "x"})

    assert response.status_code == 302
    assert reverse("account_login") in response.url


@pytest.mark.parametrize(("who", "status"), [("outsider", 404), ("lead", 403)])
def test_check_in_post_by_outsider_or_lead_refused(world, who, status):
    response = _post(world, user=getattr(world, who), done_text="x")

    assert response.status_code == status
    assert not CheckIn.objects.exists()


def test_check_in_page_lists_only_own_check_ins(world):
    _blocked(world.bob_membership, world.steps[0], "BOB-PRIVATE blocker")
    check_ins.check_in_post(membership=world.alice_membership, step=world.steps[0], status=ON_TRACK, done_text="mine")
    client = world.client_for(world.alice)

    page = client.get(reverse("cohort:check_ins", args=[world.cohort.slug]))
    dashboard = client.get(reverse("cohort:dashboard", args=[world.cohort.slug]))
    step_page = client.get(reverse("cohort:step", args=[world.cohort.slug, "step-1"]))

    assert page.status_code == 200
    assert [c.done_text for c in page.context["check_ins"]] == ["mine"]
    for response in (page, dashboard, step_page):
        assert "BOB-PRIVATE" not in response.content.decode()


def test_check_in_page_for_outsider_is_404_and_lead_goes_to_stuck_page(world):
    url = reverse("cohort:check_ins", args=[world.cohort.slug])

    outsider = world.client_for(world.outsider).get(url)
    lead = world.client_for(world.lead).get(url)

    assert outsider.status_code == 404
    assert lead.status_code == 302 and lead.url == reverse("cohort:lead_stuck", args=[world.cohort.slug])


def test_check_in_page_shows_resolution(world):
    _blocked(world.alice_membership, world.steps[0], "stuck on git")
    check_ins.check_in_post(membership=world.alice_membership, step=world.steps[0], status=ON_TRACK, done_text="ok")

    page = world.client_for(world.alice).get(reverse("cohort:check_ins", args=[world.cohort.slug]))

    assert "by your on-track check-in" in page.content.decode()


# --- With a real worker -------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_blocked_check_in_reaches_the_worker_and_is_claimed(celery_worker_process):
    cohort = CohortFactory()
    step = StepFactory(cohort=cohort, position=1)
    MembershipFactory(cohort=cohort, role=Role.LEAD)
    learner = MembershipFactory(cohort=cohort)
    client = Client()
    client.force_login(learner.user)

    response = client.post(
        reverse("cohort:check_in_create", args=[cohort.slug]),
        {"step": step.slug, "status": BLOCKED, "blocker_text": "the worker should tell my lead"},
    )

    assert response.status_code == 302
    wait_for(
        lambda: CheckIn.objects.filter(membership=learner, leads_notified_at__isnull=False).exists(),
        message="the worker to email the leads about the blocker",
    )


def test_check_in_post_invalid_keeps_where_to_return_after_the_fix(world):
    dashboard = reverse("cohort:dashboard", args=[world.cohort.slug])

    response = _post(world, status=BLOCKED, next=dashboard)

    assert response.status_code == 400
    assert f'name="next" value="{dashboard}"' in response.content.decode()
