"""Office-hours calendars: iCalendar (RFC 5545) feeds, single-session downloads and "add to Google Calendar" links.

Calendar apps cannot sign in, so a feed URL carries a secret token and the
token is the whole permission: the cohort feed uses `Cohort.calendar_token`
(leads share it and can rotate it), a member's private feed uses
`Membership.calendar_token` (only that member sees it and can rotate it).
Rotating a token makes the old URL a 404 at once.

Every feed lists all of the cohort's sessions (a cohort has a few dozen, so
the feed stays small and takes a fixed number of queries). The private feed
marks the sessions the member RSVP'd: "(going)" after the summary, a "Going"
category and TRANSP:OPAQUE; the others are TRANSP:TRANSPARENT so a session
someone is not attending does not block their free/busy time.

Each session keeps one UID for life (`session-<pk>@<site host>`), so edits
replace the entry in subscribed calendars instead of adding a copy; SEQUENCE is
`OfficeHoursSession.sequence`, bumped by `session_update` when the time
changes. Times carry the cohort's TZID with a matching VTIMEZONE, so the
entry stays right across daylight-saving changes in every client.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Iterable
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar, Event, Timezone

from cohort.mail import site_url
from cohort.models import Cohort, Membership, OfficeHoursSession, SessionRSVP, SessionTopic, new_calendar_token

PRODID = "-//First Break AI//Office hours//EN"
# Subscribed calendars poll on their own schedule; this asks for about hourly (RFC 7986 and the older Apple/MS hint).
REFRESH_INTERVAL = dt.timedelta(hours=1)
PUBLISHED_TTL = "PT1H"  # the same, as the X- property wants it (icalendar would write a timedelta as "1:00:00")
GOOGLE_TEMPLATE_URL = "https://calendar.google.com/calendar/render"
GOING = "Going"


# --- Reads (a fixed number of queries whatever the number of sessions or topics) ---------


def cohort_for_feed(*, token: str) -> Cohort | None:
    return Cohort.objects.filter(calendar_token=token).first() if token else None


def membership_for_feed(*, token: str) -> Membership | None:
    """The member whose private feed this is; a deactivated account's feed is gone like a rotated one."""
    if not token:
        return None
    return (
        Membership.objects.select_related("cohort", "user").filter(calendar_token=token, user__is_active=True).first()
    )


def feed_sessions(*, cohort: Cohort, member: Membership | None = None) -> list[OfficeHoursSession]:
    """The cohort's sessions, earliest first, with topics and their steps: two queries.

    With `member`, each session carries `rsvped` (the member RSVP'd it), computed in the same query.
    """
    sessions = (
        OfficeHoursSession.objects.filter(cohort=cohort)
        .defer("recap_markdown", "recap_html", "check_in_code")
        .prefetch_related(Prefetch("topics", queryset=SessionTopic.objects.select_related("step").order_by("position")))
        .order_by("starts_at", "number")
    )
    if member is not None:
        sessions = sessions.annotate(
            rsvped=Exists(SessionRSVP.objects.filter(session=OuterRef("pk"), membership=member))
        )
    return list(sessions)


def session_with_topics(*, session: OfficeHoursSession) -> list[SessionTopic]:
    return list(session.topics.select_related("step").order_by("position"))


# --- Writes ------------------------------------------------------------------------------


@transaction.atomic
def membership_rotate_calendar_token(*, membership: Membership) -> Membership:
    """Give the member a new private feed URL; calendars subscribed to the old one get 404 from now on."""
    membership.calendar_token = new_calendar_token()
    membership.save(update_fields=["calendar_token"])
    return membership


@transaction.atomic
def cohort_rotate_calendar_token(*, cohort: Cohort) -> Cohort:
    """Give the cohort a new shared feed URL; the old one stops working at once."""
    cohort.calendar_token = new_calendar_token()
    cohort.save(update_fields=["calendar_token"])
    return cohort


# --- URLs --------------------------------------------------------------------------------


def site_host() -> str:
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def webcal(url: str) -> str:
    """The webcal:// form that makes the operating system offer to subscribe in its calendar app."""
    return "webcal://" + url.split("://", 1)[1]


def cohort_feed_url(cohort: Cohort) -> str:
    return site_url(reverse("cohort:calendar_cohort_feed", args=[cohort.calendar_token]))


def member_feed_url(membership: Membership) -> str:
    return site_url(reverse("cohort:calendar_member_feed", args=[membership.calendar_token]))


def session_page_url(session: OfficeHoursSession, cohort: Cohort) -> str:
    return site_url(reverse("cohort:session", args=[cohort.slug, session.number]))


def session_uid(session: OfficeHoursSession) -> str:
    # Never derived from anything editable: a changed title or time must replace, not duplicate, the entry.
    return f"session-{session.pk}@{site_host()}"


# --- Building ----------------------------------------------------------------------------


def cohort_zone(cohort: Cohort) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(cohort.timezone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


@functools.lru_cache(maxsize=64)
def _vtimezone(tzid: str, first_year: int, last_year: int) -> Timezone:
    # Building one walks the zone's transitions; the result only depends on these arguments, so keep it.
    # Callers only add it to calendars and serialize it, never change it.
    return Timezone.from_tzid(tzid, first_date=dt.date(first_year, 1, 1), last_date=dt.date(last_year, 1, 1))


def summary(session: OfficeHoursSession) -> str:
    return f"Office hours {session.number}: {session.title}"


def topic_line(topic: SessionTopic) -> str:
    line = f"{topic.position}. {topic.title}"
    if topic.step is not None:
        line += f" (Roadmap connection: {topic.step.code})"
    return line


def description(session: OfficeHoursSession, cohort: Cohort, topics: Iterable[SessionTopic]) -> str:
    lines = [f"{cohort.name} office hours, session {session.number}: {session.title}", ""]
    topic_lines = [topic_line(topic) for topic in topics]
    if topic_lines:
        lines += ["Topics:", *topic_lines, ""]
    if session.meeting_url:
        lines.append(f"Join: {session.meeting_url}")
    lines.append(f"Session page (questions, recap): {session_page_url(session, cohort)}")
    return "\n".join(lines)


def session_event(
    session: OfficeHoursSession,
    *,
    cohort: Cohort,
    topics: Iterable[SessionTopic],
    stamp: dt.datetime,
    rsvped: bool | None = None,
) -> Event:
    """One VEVENT; `rsvped` None leaves out the member's mark (cohort feed, single download)."""
    zone = cohort_zone(cohort)
    event = Event()
    event.add("uid", session_uid(session))
    # In a METHOD:PUBLISH object DTSTAMP is when this copy was made (RFC 5545 3.8.7.2).
    event.add("dtstamp", stamp)
    event.add("created", session.created_at)
    event.add("sequence", session.sequence)
    event.add("dtstart", session.starts_at.astimezone(zone))
    event.add("dtend", session.ends_at.astimezone(zone))
    event.add("summary", summary(session) + (" (going)" if rsvped else ""))
    event.add("description", description(session, cohort, topics))
    event.add("url", session_page_url(session, cohort))
    if session.meeting_url:
        event.add("location", session.meeting_url)
    event.add("status", "CONFIRMED")
    event.add("categories", ["Office hours", GOING] if rsvped else ["Office hours"])
    if rsvped is not None:
        event.add("transp", "OPAQUE" if rsvped else "TRANSPARENT")
    return event


def build_calendar(
    *,
    cohort: Cohort,
    sessions: Iterable[OfficeHoursSession],
    name: str,
    topics_of: dict[int, list[SessionTopic]] | None = None,
    mark_rsvps: bool = False,
    now: dt.datetime | None = None,
) -> Calendar:
    """A VCALENDAR of `sessions` with the cohort's VTIMEZONE.

    Topics come from each session's prefetched `topics` unless `topics_of` maps
    session pk to its topics. With `mark_rsvps`, sessions carry `rsvped`
    (see `feed_sessions`).
    """
    stamp = (now or timezone.now()).astimezone(dt.UTC).replace(microsecond=0)
    sessions = list(sessions)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", cohort.timezone)
    calendar.add("x-wr-caldesc", f"Office-hours sessions of {cohort.name} on First Break AI")
    calendar.add("refresh-interval", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", PUBLISHED_TTL)
    zone = cohort_zone(cohort)
    if zone.key != "UTC":
        # UTC times are written with a Z and need no VTIMEZONE (RFC 5545 3.3.5); every other zone does.
        years = [s.starts_at.astimezone(zone).year for s in sessions] or [cohort.starts_on.year]
        calendar.add_component(_vtimezone(zone.key, min(years), max(years) + 2))
    for session in sessions:
        topics = topics_of[session.pk] if topics_of is not None else session.topics.all()
        rsvped = bool(getattr(session, "rsvped", False)) if mark_rsvps else None
        calendar.add_component(session_event(session, cohort=cohort, topics=topics, stamp=stamp, rsvped=rsvped))
    return calendar


def cohort_feed(*, cohort: Cohort, now: dt.datetime | None = None) -> bytes:
    sessions = feed_sessions(cohort=cohort)
    ical: bytes = build_calendar(
        cohort=cohort, sessions=sessions, name=f"{cohort.name} office hours", now=now
    ).to_ical()
    return ical


def member_feed(*, membership: Membership, now: dt.datetime | None = None) -> bytes:
    cohort = membership.cohort
    sessions = feed_sessions(cohort=cohort, member=membership)
    calendar = build_calendar(
        cohort=cohort, sessions=sessions, name=f"{cohort.name} office hours", mark_rsvps=True, now=now
    )
    ical: bytes = calendar.to_ical()
    return ical


def session_ics(*, session: OfficeHoursSession, cohort: Cohort, now: dt.datetime | None = None) -> bytes:
    """A one-event calendar to import; a later download with a higher SEQUENCE updates the same entry."""
    topics = session_with_topics(session=session)
    calendar = build_calendar(
        cohort=cohort, sessions=[session], name=summary(session), topics_of={session.pk: topics}, now=now
    )
    ical: bytes = calendar.to_ical()
    return ical


def google_calendar_url(*, session: OfficeHoursSession, cohort: Cohort, topics: Iterable[SessionTopic]) -> str:
    """A prefilled "add event" page on Google Calendar (a copy: it does not follow later changes)."""
    utc = "%Y%m%dT%H%M%SZ"
    params = {
        "action": "TEMPLATE",
        "text": summary(session),
        "dates": f"{session.starts_at.astimezone(dt.UTC):{utc}}/{session.ends_at.astimezone(dt.UTC):{utc}}",
        "ctz": cohort_zone(cohort).key,
        "details": description(session, cohort, topics),
    }
    if session.meeting_url:
        params["location"] = session.meeting_url
    return f"{GOOGLE_TEMPLATE_URL}?{urlencode(params)}"
