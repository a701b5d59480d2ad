"""Calendars built by cohort/office_hours/calendars.py, read back with icalendar as a calendar app would."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from urllib.parse import parse_qs, urlsplit

import pytest
from icalendar import Calendar

from cohort.models import Cohort, Membership, SessionRSVP
from cohort.office_hours import calendars, services
from tests.factories import SessionFactory, TopicFactory

pytestmark = pytest.mark.django_db

LONDON = zoneinfo.ZoneInfo("Europe/London")
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def london(world):
    Cohort.objects.filter(pk=world.cohort.pk).update(timezone="Europe/London")
    world.cohort.refresh_from_db()
    return world


def _parse(body: bytes) -> Calendar:
    return Calendar.from_ical(body)


def _events(calendar: Calendar) -> dict[str, object]:
    return {str(event["SUMMARY"]): event for event in calendar.walk("VEVENT")}


def _member(world) -> Membership:  # type: ignore[no-untyped-def]
    return world.alice_membership


def test_cohort_feed_is_a_publishable_calendar_with_the_cohort_time_zone(london, settings):
    settings.SITE_URL = "https://app.firstbreak.ai"
    SessionFactory(
        cohort=london.cohort, number=1, title="Kick-off", starts_at=dt.datetime(2026, 3, 13, 17, tzinfo=dt.UTC)
    )
    SessionFactory(
        cohort=london.cohort, number=2, title="Inference", starts_at=dt.datetime(2026, 4, 10, 16, tzinfo=dt.UTC)
    )
    SessionFactory(number=1, title="Other cohort")  # another cohort's session never shows up

    calendar = _parse(calendars.cohort_feed(cohort=london.cohort, now=NOW))

    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]) == calendars.PRODID
    assert str(calendar["CALSCALE"]) == "GREGORIAN"
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert str(calendar["X-WR-CALNAME"]) == "Cohort A office hours"
    assert str(calendar["X-WR-TIMEZONE"]) == "Europe/London"
    assert calendar.decoded("REFRESH-INTERVAL") == dt.timedelta(hours=1)
    assert calendar["REFRESH-INTERVAL"].params["VALUE"] == "DURATION"
    assert str(calendar["X-PUBLISHED-TTL"]) == "PT1H"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/London"]
    assert calendar.get_missing_tzids() == set()
    assert sorted(_events(calendar)) == ["Office hours 1: Kick-off", "Office hours 2: Inference"]


def test_event_times_carry_the_cohort_tzid_and_the_right_instant_across_daylight_saving(london):
    winter = SessionFactory(cohort=london.cohort, number=1, starts_at=dt.datetime(2026, 3, 13, 17, tzinfo=dt.UTC))
    summer = SessionFactory(
        cohort=london.cohort, number=2, starts_at=dt.datetime(2026, 4, 10, 16, tzinfo=dt.UTC), duration_minutes=90
    )

    events = {e["UID"]: e for e in _parse(calendars.cohort_feed(cohort=london.cohort, now=NOW)).walk("VEVENT")}

    first, second = events[calendars.session_uid(winter)], events[calendars.session_uid(summer)]
    assert first["DTSTART"].params["TZID"] == "Europe/London"
    assert first["DTEND"].params["TZID"] == "Europe/London"
    assert first.decoded("DTSTART") == dt.datetime(2026, 3, 13, 17, tzinfo=dt.UTC)
    assert first.decoded("DTSTART").replace(tzinfo=None) == dt.datetime(2026, 3, 13, 17)  # GMT wall clock
    # After the clocks go forward, 16:00 UTC is 17:00 on the London wall clock.
    assert second.decoded("DTSTART").replace(tzinfo=None) == dt.datetime(2026, 4, 10, 17)
    assert second.decoded("DTSTART") == dt.datetime(2026, 4, 10, 16, tzinfo=dt.UTC)
    assert second.decoded("DTEND") == dt.datetime(2026, 4, 10, 17, 30, tzinfo=dt.UTC)


def test_event_fields_summary_description_url_location_status_and_stamps(london, settings):
    settings.SITE_URL = "https://app.firstbreak.ai"
    session = SessionFactory(
        cohort=london.cohort,
        number=3,
        title="Git and inference",
        meeting_url="https://meet.example/oh3",
        starts_at=dt.datetime(2026, 3, 13, 17, tzinfo=dt.UTC),
    )
    TopicFactory(session=session, position=1, title="GitHub collaboration", step=london.steps[0])
    TopicFactory(session=session, position=2, title="Cohort-based learning", step=None)

    event = _parse(calendars.cohort_feed(cohort=london.cohort, now=NOW)).walk("VEVENT")[0]

    description = str(event["DESCRIPTION"])
    assert str(event["SUMMARY"]) == "Office hours 3: Git and inference"
    assert "1. GitHub collaboration (Roadmap connection: Step 1)" in description
    assert "2. Cohort-based learning\n" in description
    assert "https://app.firstbreak.ai/c/cohort-a/sessions/3/" in description
    assert "Join: https://meet.example/oh3" in description
    assert str(event["URL"]) == "https://app.firstbreak.ai/c/cohort-a/sessions/3/"
    assert str(event["LOCATION"]) == "https://meet.example/oh3"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["UID"]) == f"session-{session.pk}@app.firstbreak.ai"
    assert event.decoded("DTSTAMP") == NOW
    assert event.decoded("CREATED") == session.created_at.replace(microsecond=0)
    assert int(event["SEQUENCE"]) == 0
    assert "TRANSP" not in event  # the cohort feed says nothing about anyone's RSVP


def test_uid_stays_and_sequence_grows_when_a_session_is_rescheduled(london):
    session = SessionFactory(cohort=london.cohort, number=1, starts_at=dt.datetime(2026, 3, 13, 17, tzinfo=dt.UTC))
    before = _parse(calendars.cohort_feed(cohort=london.cohort, now=NOW)).walk("VEVENT")[0]

    services.session_update(
        session=session,
        title="Renamed",
        starts_at=dt.datetime(2026, 3, 14, 18, tzinfo=dt.UTC),
        duration_minutes=60,
        leads=[],
        meeting_url="",
    )
    after = _parse(calendars.cohort_feed(cohort=london.cohort, now=NOW)).walk("VEVENT")[0]

    assert str(after["UID"]) == str(before["UID"])
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])
    assert after.decoded("DTSTART") == dt.datetime(2026, 3, 14, 18, tzinfo=dt.UTC)
    assert str(after["SUMMARY"]) == "Office hours 1: Renamed"


def test_title_only_edit_keeps_uid_and_sequence(london):
    session = SessionFactory(cohort=london.cohort, number=1)
    before = _parse(calendars.cohort_feed(cohort=london.cohort, now=NOW)).walk("VEVENT")[0]

    services.session_update(
        session=session, title="New title", starts_at=session.starts_at, duration_minutes=60, leads=[], meeting_url=""
    )
    after = _parse(calendars.cohort_feed(cohort=london.cohort, now=NOW)).walk("VEVENT")[0]

    assert (str(after["UID"]), int(after["SEQUENCE"])) == (str(before["UID"]), int(before["SEQUENCE"]))


def test_member_feed_lists_every_cohort_session_and_marks_the_rsvpd_ones(london):
    going = SessionFactory(cohort=london.cohort, number=1, title="Going")
    SessionFactory(cohort=london.cohort, number=2, title="Not going")
    SessionRSVP.objects.create(session=going, membership=london.alice_membership)
    SessionRSVP.objects.create(session=going, membership=london.bob_membership)

    alice = _events(_parse(calendars.member_feed(membership=london.alice_membership, now=NOW)))

    assert sorted(alice) == ["Office hours 1: Going (going)", "Office hours 2: Not going"]
    marked, plain = alice["Office hours 1: Going (going)"], alice["Office hours 2: Not going"]
    assert str(marked["TRANSP"]) == "OPAQUE"
    assert "Going" in marked.categories
    assert str(plain["TRANSP"]) == "TRANSPARENT"
    assert "Going" not in plain.categories
    # The same UID as in the cohort feed: one entry per session whichever feed a person uses.
    assert str(marked["UID"]) == calendars.session_uid(going)


def test_member_feed_marks_only_the_members_own_rsvps(london):
    session = SessionFactory(cohort=london.cohort, number=1, title="Bob only")
    SessionRSVP.objects.create(session=session, membership=london.bob_membership)

    alice = _events(_parse(calendars.member_feed(membership=london.alice_membership, now=NOW)))

    assert list(alice) == ["Office hours 1: Bob only"]


def test_utc_cohort_writes_utc_times_without_a_vtimezone(world):
    SessionFactory(cohort=world.cohort, number=1, starts_at=dt.datetime(2026, 3, 13, 17, tzinfo=dt.UTC))

    body = calendars.cohort_feed(cohort=world.cohort, now=NOW)
    calendar = _parse(body)

    assert b"DTSTART:20260313T170000Z" in body
    assert calendar.walk("VTIMEZONE") == []
    assert calendar.get_missing_tzids() == set()
    assert str(calendar["X-WR-TIMEZONE"]) == "UTC"


def test_empty_cohort_feed_is_still_valid(london):
    calendar = _parse(calendars.cohort_feed(cohort=london.cohort, now=NOW))

    assert calendar.walk("VEVENT") == []
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/London"]


def test_single_session_calendar_has_one_event_with_its_topics(london):
    session = SessionFactory(cohort=london.cohort, number=4, title="Solo")
    TopicFactory(session=session, position=1, title="Speculative decoding", step=london.steps[1])
    SessionFactory(cohort=london.cohort, number=5)

    calendar = _parse(calendars.session_ics(session=session, cohort=london.cohort, now=NOW))

    [event] = calendar.walk("VEVENT")
    assert str(event["SUMMARY"]) == "Office hours 4: Solo"
    assert "Speculative decoding (Roadmap connection: Step 2)" in str(event["DESCRIPTION"])
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/London"]


def test_google_calendar_link_has_utc_dates_zone_and_details(london):
    session = SessionFactory(
        cohort=london.cohort,
        number=2,
        title="Temperature",
        starts_at=dt.datetime(2026, 4, 10, 16, tzinfo=dt.UTC),
        duration_minutes=45,
        meeting_url="https://meet.example/two",
    )
    topic = TopicFactory(session=session, position=1, title="Sampling", step=london.steps[1])

    url = calendars.google_calendar_url(session=session, cohort=london.cohort, topics=[topic])

    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://calendar.google.com/calendar/render"
    assert query["action"] == "TEMPLATE"
    assert query["text"] == "Office hours 2: Temperature"
    assert query["dates"] == "20260410T160000Z/20260410T164500Z"
    assert query["ctz"] == "Europe/London"
    assert query["location"] == "https://meet.example/two"
    assert "1. Sampling (Roadmap connection: Step 2)" in query["details"]


def test_rotating_tokens_replaces_them(world):
    member_before, cohort_before = world.alice_membership.calendar_token, world.cohort.calendar_token

    calendars.membership_rotate_calendar_token(membership=world.alice_membership)
    calendars.cohort_rotate_calendar_token(cohort=world.cohort)

    world.alice_membership.refresh_from_db()
    world.cohort.refresh_from_db()
    assert world.alice_membership.calendar_token != member_before
    assert world.cohort.calendar_token != cohort_before
    assert calendars.membership_for_feed(token=member_before) is None
    assert calendars.cohort_for_feed(token=cohort_before) is None
    assert calendars.membership_for_feed(token=world.alice_membership.calendar_token) == world.alice_membership
