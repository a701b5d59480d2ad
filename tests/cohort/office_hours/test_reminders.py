"""Office-hours emails (cohort/office_hours/reminders.py): reminders before a session and the recap announcement, each sent once."""

from __future__ import annotations

import datetime as dt
import smtplib
import threading

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import connection
from django.utils import timezone

from cohort.models import Cohort, Membership, OfficeHoursSession, Role, SessionRSVP, SessionStatus, User
from cohort.office_hours import reminders, services, tasks
from config.celery import app
from tests.factories import MembershipFactory, SessionFactory, TopicFactory, UserFactory
from tests.helpers import queued

START = dt.datetime(2030, 3, 13, 17, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


class CountingBackend(LocmemBackend):
    """The test mail server: delivers to `mail.outbox` and counts connections opened."""

    opened = 0

    def open(self):  # type: ignore[no-untyped-def]
        CountingBackend.opened += 1
        return super().open()


class DownBackend(LocmemBackend):
    """A mail server that refuses every message."""

    def send_messages(self, messages):  # type: ignore[no-untyped-def]
        raise smtplib.SMTPServerDisconnected("connection refused")


def _use_backend(settings, backend: type) -> None:  # type: ignore[no-untyped-def]
    settings.MAILERS = {"default": {"BACKEND": f"{backend.__module__}.{backend.__qualname__}"}}


@pytest.fixture
def session(world):  # type: ignore[no-untyped-def]
    """Session 3 of cohort A (London time) at 17:00 UTC on 13 March 2030; alice RSVP'd, bob did not."""
    Cohort.objects.filter(pk=world.cohort.pk).update(timezone="Europe/London")
    world.cohort.refresh_from_db()
    session = SessionFactory(
        cohort=world.cohort, number=3, title="Git and Qwen3", starts_at=START, meeting_url="https://meet.example/oh3"
    )
    TopicFactory(session=session, position=1, title="GitHub collaboration", step=world.steps[0])
    TopicFactory(session=session, position=2, title="Cohort learning", step=None)
    SessionRSVP.objects.create(session=session, membership=world.alice_membership)
    return session


def _to(messages) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(address for message in messages for address in message.to)


# --- Reminders ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_reminders_follow_the_clock_and_each_goes_out_once(world, session):
    sent_at = {}
    steps = [("25h", 25 * 60), ("23h", 23 * 60), ("23h again", 23 * 60), ("2h", 120), ("50min", 50), ("45min", 45)]
    for label, minutes_before in steps:
        before_count = len(mail.outbox)
        reminders.reminders_send(now=START - dt.timedelta(minutes=minutes_before))
        sent_at[label] = mail.outbox[before_count:]
    reminders.reminders_send(now=START + dt.timedelta(minutes=5))
    after_start = mail.outbox[sum(len(v) for v in sent_at.values()) :]

    assert sent_at["25h"] == []
    assert _to(sent_at["23h"]) == ["alice@example.com"]
    assert "Reminder: office hours 3" in sent_at["23h"][0].subject
    assert sent_at["23h again"] == []
    assert sent_at["2h"] == []
    assert _to(sent_at["50min"]) == ["alice@example.com"]
    assert "starts at 17:00 UTC" in sent_at["50min"][0].subject  # alice keeps the default zone, UTC
    assert "starts in 50 minutes" in sent_at["50min"][0].body
    assert sent_at["45min"] == []
    assert after_start == []
    rsvp = SessionRSVP.objects.get(session=session, membership=world.alice_membership)
    assert rsvp.reminded_24h_at == START - dt.timedelta(hours=23)
    assert rsvp.reminded_1h_at == START - dt.timedelta(minutes=50)


@pytest.mark.django_db
def test_inside_the_last_hour_only_the_hour_reminder_goes_out(world, session):
    reminders.reminders_send(now=START - dt.timedelta(minutes=30))

    assert len(mail.outbox) == 1
    assert "starts at" in mail.outbox[0].subject
    rsvp = SessionRSVP.objects.get(session=session)
    assert rsvp.reminded_24h_at is None and rsvp.reminded_1h_at is not None


@pytest.mark.django_db
def test_the_task_run_twice_sends_once(world):
    # The task reads the real clock, so this session starts 20 hours from now.
    soon = SessionFactory(cohort=world.cohort, number=9, starts_at=timezone.now() + dt.timedelta(hours=20))
    SessionRSVP.objects.create(session=soon, membership=world.bob_membership)

    tasks.send_session_reminders()
    tasks.send_session_reminders()

    assert _to(mail.outbox) == ["bob@example.com"]


@pytest.mark.django_db
@pytest.mark.parametrize("status", [SessionStatus.LIVE, SessionStatus.ENDED])
def test_no_reminders_for_live_or_ended_sessions(world, session, status):
    OfficeHoursSession.objects.filter(pk=session.pk).update(status=status)

    reminders.reminders_send(now=START - dt.timedelta(minutes=30))
    reminders.reminders_send(now=START - dt.timedelta(hours=5))

    assert mail.outbox == []


@pytest.mark.django_db
def test_no_reminder_for_unverified_inactive_or_foreign_rsvps(world, session):
    SessionRSVP.objects.create(session=session, membership=world.bob_membership)
    EmailAddress.objects.filter(user=world.bob).update(verified=False)
    carol = MembershipFactory(cohort=world.cohort, user=UserFactory(email="carol@example.com"))
    SessionRSVP.objects.create(session=session, membership=carol)
    User.objects.filter(pk=carol.user_id).update(is_active=False)
    # A membership of another cohort attached to this session (never made by the services): ignored.
    SessionRSVP.objects.create(session=session, membership=Membership.objects.get(user=world.outsider))

    reminders.reminders_send(now=START - dt.timedelta(hours=3))

    assert _to(mail.outbox) == ["alice@example.com"]


@pytest.mark.django_db
def test_reminder_shows_member_and_cohort_times_meeting_link_session_url_and_topics(world, session, settings):
    settings.SITE_URL = "https://app.firstbreak.ai"
    User.objects.filter(pk=world.alice.pk).update(timezone="America/New_York")

    reminders.reminders_send(now=START - dt.timedelta(hours=20))

    [message] = mail.outbox
    body = message.body
    assert "Hello Alice," in body
    assert "Wed 13 Mar 2030, 13:00–14:00 EDT (your time, America/New_York)" in body
    assert "Wed 13 Mar 2030, 17:00–18:00 GMT (cohort time, Europe/London)" in body
    assert "Join: https://meet.example/oh3" in body
    assert "Session page: https://app.firstbreak.ai/c/cohort-a/sessions/3/" in body
    assert "1. GitHub collaboration (Roadmap connection: Step 1)" in body
    assert "2. Cohort learning" in body
    assert message.subject == "[First Break AI] Reminder: office hours 3 on Wed 13 Mar, 13:00 EDT"
    assert "&#x27;" not in body and "&amp;" not in body


@pytest.mark.django_db
def test_reminder_in_the_cohort_zone_shows_one_time(world, session):
    User.objects.filter(pk=world.alice.pk).update(timezone="Europe/London")

    reminders.reminders_send(now=START - dt.timedelta(hours=20))

    assert "cohort time" not in mail.outbox[0].body


@pytest.mark.django_db
def test_a_session_moved_later_gets_its_reminders_again(world, session):
    reminders.reminders_send(now=START - dt.timedelta(hours=20))
    reminders.reminders_send(now=START - dt.timedelta(minutes=50))
    later = START + dt.timedelta(days=7)
    services.session_update(
        session=session, title=session.title, starts_at=later, duration_minutes=60, leads=[], meeting_url=""
    )

    reminders.reminders_send(now=START - dt.timedelta(minutes=40))  # the old time: nothing due now
    reminders.reminders_send(now=later - dt.timedelta(hours=20))
    reminders.reminders_send(now=later - dt.timedelta(hours=19))
    reminders.reminders_send(now=later - dt.timedelta(minutes=55))

    assert len(mail.outbox) == 4
    assert "20 Mar" in mail.outbox[2].subject


@pytest.mark.django_db
def test_one_mail_connection_for_many_reminders(world, session, settings):
    _use_backend(settings, CountingBackend)
    CountingBackend.opened = 0
    for i in range(30):
        member = MembershipFactory(cohort=world.cohort, user=UserFactory(email=f"rsvp{i}@example.com"))
        SessionRSVP.objects.create(session=session, membership=member)

    sent = reminders.reminders_send(now=START - dt.timedelta(hours=20))

    assert sent == len(mail.outbox) == 31
    assert CountingBackend.opened == 1


@pytest.mark.django_db
def test_a_run_with_nothing_due_opens_no_connection(world, session, settings):
    _use_backend(settings, CountingBackend)
    CountingBackend.opened = 0

    assert reminders.reminders_send(now=START - dt.timedelta(days=3)) == 0
    assert CountingBackend.opened == 0


@pytest.mark.django_db
def test_mail_server_down_leaves_the_reminder_for_the_next_run(world, session, settings):
    _use_backend(settings, DownBackend)
    with pytest.raises(smtplib.SMTPException):
        reminders.reminders_send(now=START - dt.timedelta(hours=20))
    assert SessionRSVP.objects.get(session=session).reminded_24h_at is None

    _use_backend(settings, LocmemBackend)
    reminders.reminders_send(now=START - dt.timedelta(hours=19))
    reminders.reminders_send(now=START - dt.timedelta(hours=18))

    assert _to(mail.outbox) == ["alice@example.com"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_send_each_reminder_once(world, session):
    for i in range(10):
        member = MembershipFactory(cohort=world.cohort, user=UserFactory(email=f"race{i}@example.com"))
        SessionRSVP.objects.create(session=session, membership=member)
    now = START - dt.timedelta(hours=20)
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            reminders.reminders_send(now=now)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    recipients = _to(mail.outbox)
    assert len(recipients) == 11
    assert len(set(recipients)) == 11


def test_reminders_and_recap_sweep_are_scheduled():
    schedule = {entry["task"]: entry["schedule"] for entry in app.conf.beat_schedule.values()}

    assert schedule["cohort.send_session_reminders"] <= 300
    assert schedule["cohort.sweep_recap_notifications"] <= 600


# --- Recap published ---------------------------------------------------------------------


def _publish(session: OfficeHoursSession, capture, *, publish: bool | None = True, text: str = "## Recap") -> list:  # type: ignore[no-untyped-def]
    """Save the recap as a lead would; returns the callbacks queued for after the commit (not run)."""
    with capture(execute=False) as callbacks:
        services.recap_save(session=session, recap_markdown=text, publish=publish)
    return queued(callbacks)


@pytest.fixture
def recap_world(world, session):  # type: ignore[no-untyped-def]
    MembershipFactory(cohort=world.cohort, role=Role.MENTOR, user=UserFactory(email="mentor@example.com"))
    return world


COHORT_A = ["alice@example.com", "bob@example.com", "mentor@example.com"]


def _cohort_a_recipients(world) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted([*COHORT_A, world.lead.email])


@pytest.mark.django_db
def test_publishing_queues_one_announcement_sent_once_to_the_cohort(
    recap_world, session, django_capture_on_commit_callbacks
):
    callbacks = _publish(session, django_capture_on_commit_callbacks)

    assert len(callbacks) == 1
    assert tasks.notify_recap_published(session_id=session.pk) == 4
    assert tasks.notify_recap_published(session_id=session.pk) == 0  # redelivered
    assert reminders.recaps_sweep(now=session.recap_published_at + dt.timedelta(minutes=10)) == 0
    assert _to(mail.outbox) == _cohort_a_recipients(recap_world)
    assert "outsider" not in " ".join(_to(mail.outbox))


@pytest.mark.django_db
def test_recap_email_has_the_recap_url_and_topics(recap_world, session, settings, django_capture_on_commit_callbacks):
    settings.SITE_URL = "https://app.firstbreak.ai"
    _publish(session, django_capture_on_commit_callbacks)

    reminders.recap_notify(session_id=session.pk)

    message = mail.outbox[0]
    assert message.subject == "[First Break AI] Recap of office hours 3: Git and Qwen3"
    assert "https://app.firstbreak.ai/c/cohort-a/sessions/3/recap/" in message.body
    assert "1. GitHub collaboration (Roadmap connection: Step 1)" in message.body
    assert "2. Cohort learning" in message.body
    assert message.to == [message.to[0]]  # one recipient per message: nobody sees the others' addresses


@pytest.mark.django_db
def test_editing_or_republishing_a_recap_does_not_announce_it_again(
    recap_world, session, django_capture_on_commit_callbacks
):
    _publish(session, django_capture_on_commit_callbacks)
    reminders.recap_notify(session_id=session.pk)
    announced = len(mail.outbox)

    edit = _publish(session, django_capture_on_commit_callbacks, publish=None, text="## Recap, typo fixed")
    _publish(session, django_capture_on_commit_callbacks, publish=False)
    republish = _publish(session, django_capture_on_commit_callbacks, publish=True)
    session.refresh_from_db()

    assert edit == []
    assert len(republish) == 1  # queued again, and the claim turns it into nothing
    assert tasks.notify_recap_published(session_id=session.pk) == 0
    assert reminders.recaps_sweep(now=session.recap_published_at + dt.timedelta(minutes=10)) == 0
    assert len(mail.outbox) == announced


@pytest.mark.django_db
def test_draft_save_queues_nothing(recap_world, session, django_capture_on_commit_callbacks):
    callbacks = _publish(session, django_capture_on_commit_callbacks, publish=None)

    assert callbacks == []
    assert reminders.recap_notify(session_id=session.pk) == 0
    assert mail.outbox == []


@pytest.mark.django_db
def test_sweep_sends_the_announcement_of_a_lost_task(recap_world, session, django_capture_on_commit_callbacks):
    _publish(session, django_capture_on_commit_callbacks)  # the task is never published: lost
    session.refresh_from_db()
    published = session.recap_published_at

    too_soon = reminders.recaps_sweep(now=published + dt.timedelta(seconds=30))
    swept = reminders.recaps_sweep(now=published + dt.timedelta(minutes=5))
    again = reminders.recaps_sweep(now=published + dt.timedelta(minutes=10))

    assert (too_soon, swept, again) == (0, 1, 0)
    assert _to(mail.outbox) == _cohort_a_recipients(recap_world)
    session.refresh_from_db()
    assert session.recap_notified_at == published + dt.timedelta(minutes=5)


@pytest.mark.django_db
def test_old_recaps_are_never_announced(recap_world, session):
    long_ago = START - dt.timedelta(days=30)
    OfficeHoursSession.objects.filter(pk=session.pk).update(recap_markdown="Old", recap_published_at=long_ago)

    assert reminders.recaps_sweep(now=START) == 0
    assert reminders.recap_notify(session_id=session.pk, now=START) == 0
    assert mail.outbox == []


@pytest.mark.django_db
def test_announcement_goes_to_verified_active_members_only(recap_world, session, django_capture_on_commit_callbacks):
    EmailAddress.objects.filter(user=recap_world.bob).update(verified=False)
    User.objects.filter(email="mentor@example.com").update(is_active=False)
    _publish(session, django_capture_on_commit_callbacks)

    reminders.recap_notify(session_id=session.pk)

    assert _to(mail.outbox) == sorted(["alice@example.com", recap_world.lead.email])


@pytest.mark.django_db
def test_announcement_to_a_big_cohort_uses_one_connection(
    recap_world, session, settings, django_capture_on_commit_callbacks
):
    _use_backend(settings, CountingBackend)
    CountingBackend.opened = 0
    for i in range(40):
        MembershipFactory(cohort=recap_world.cohort, user=UserFactory(email=f"crowd{i}@example.com"))
    _publish(session, django_capture_on_commit_callbacks)

    assert reminders.recap_notify(session_id=session.pk) == 44
    assert CountingBackend.opened == 1


@pytest.mark.django_db
def test_mail_server_down_gives_the_announcement_back_to_the_sweep(
    recap_world, session, settings, django_capture_on_commit_callbacks
):
    _publish(session, django_capture_on_commit_callbacks)
    session.refresh_from_db()
    _use_backend(settings, DownBackend)

    with pytest.raises(smtplib.SMTPException):
        reminders.recap_notify(session_id=session.pk)
    assert OfficeHoursSession.objects.get(pk=session.pk).recap_notified_at is None

    _use_backend(settings, LocmemBackend)
    assert reminders.recaps_sweep(now=session.recap_published_at + dt.timedelta(minutes=5)) == 1
    assert len(mail.outbox) == 4


@pytest.mark.django_db
def test_queue_failure_on_publish_does_not_fail_the_lead(
    recap_world, session, django_capture_on_commit_callbacks, monkeypatch
):
    def broker_down(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.notify_recap_published, "apply_async", broker_down)

    with django_capture_on_commit_callbacks(execute=True):
        services.recap_save(session=session, recap_markdown="## Recap", publish=True)

    session.refresh_from_db()
    assert session.recap_is_published
    assert session.recap_notified_at is None  # left for the sweep
