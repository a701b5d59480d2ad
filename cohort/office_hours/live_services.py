"""Every write and rule about being at an office-hours session: RSVPs, attendance and the live help queue.

- RSVP: any member, until the session is over; cancelling likewise.
- Attendance: while a session is live a member checks in with its spoken code;
  a lead can mark anyone present (or remove a mark) once the session has started.
- Help queue: while a session is live a member takes one open place (waiting,
  then helping) with a description and an optional debug capsule; a lead or
  mentor takes the next one and finishes it. Rows are never deleted: a finished
  or abandoned place is the history of who was helped with what.

- Live page: a lead posts short announcements and sets the help room link.

Callers check who may call what (`cohort.access`); these functions check that
the objects belong together and that the session is in the right state. Every
function is safe to call twice: a repeated RSVP, check-in, mark or join
changes nothing and says so through its return value.

Every write that changes what the live panels show calls `session_touch` (the help-queue writes
first thing, through `_check_live_locked`, so every writer takes the session row before a request's):
it bumps the session's `live_version` in the same transaction, which is what
the pages' one-second poll compares (see `live_selectors.live_key` and `live_probe`).
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import re
from dataclasses import dataclass

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.utils import timezone

from cohort.errors import Refused
from cohort.models import (
    ANNOUNCEMENT_MAX_CHARS,
    HELP_DESCRIPTION_MAX_CHARS,
    HELP_ERROR_LOG_MAX_CHARS,
    HELP_NOTE_MAX_CHARS,
    SHA256_RE,
    AttendanceSource,
    HelpRequest,
    HelpRequestStatus,
    HelpResolution,
    Membership,
    OfficeHoursSession,
    SessionAnnouncement,
    SessionAttendance,
    SessionRSVP,
    SessionStatus,
    User,
)
from cohort.services import membership_touch

logger = logging.getLogger(__name__)

OPEN_STATUSES = (HelpRequestStatus.WAITING, HelpRequestStatus.HELPING)
# Guessing the 6-character code is pointless for a member, but it must not be cheap either.
WRONG_CODES_ALLOWED = 10
WRONG_CODES_WINDOW_SECONDS = 15 * 60


class LiveSessionError(Refused):
    """An RSVP, check-in, help-queue or announcement the rules refuse."""


# --- Shared checks ----------------------------------------------------------------------


def session_touch(*, session: OfficeHoursSession) -> None:
    """Tell open pages that something they show changed: one UPDATE of the session's `live_version`.

    Runs inside the caller's transaction, so a poll never sees the new version
    with the old rows. The in-memory object is left alone (its value is stale
    once another writer bumps it anyway).
    """
    OfficeHoursSession.objects.filter(pk=session.pk).update(live_version=F("live_version") + 1)


def session_is_over(session: OfficeHoursSession, now: dt.datetime) -> bool:
    """Ended by a lead, or scheduled and past its end time (the sessions list calls these "past" too).

    A live session is never over, however late it runs.
    """
    if session.status == SessionStatus.LIVE:
        return False
    return session.status == SessionStatus.ENDED or session.ends_at < now


def session_has_started(session: OfficeHoursSession, now: dt.datetime) -> bool:
    return session.status != SessionStatus.SCHEDULED or session.starts_at <= now


def check_member(session: OfficeHoursSession, membership: Membership) -> None:
    """Refuse a membership of another cohort (views already answer 404; this guards every caller)."""
    if membership.cohort_id != session.cohort_id:
        raise PermissionDenied("That session belongs to another cohort.")


def _check_live(session: OfficeHoursSession, action: str) -> None:
    if session.status == SessionStatus.ENDED:
        raise LiveSessionError(f"This session has ended: {action} is closed.")
    if session.status != SessionStatus.LIVE:
        raise LiveSessionError(f"{action.capitalize()} opens when the lead starts the session.")


def _check_live_locked(session: OfficeHoursSession, action: str) -> None:
    """`_check_live` on the session's current row, locked until the caller's transaction ends.

    Ending a session updates this row and closes the queue in one transaction,
    so a join or take either finishes first (and is closed with the rest) or
    waits and sees the session ended: no place stays open in an ended session.
    """
    # The UPDATE of live_version comes first: it takes the row lock on every database, and on SQLite
    # the write lock at once, so racing transactions wait (busy timeout) instead of failing to
    # upgrade a read to a write ("database is locked"). Refused, the transaction rolls it back.
    session_touch(session=session)
    current = OfficeHoursSession.objects.select_for_update().only("status").get(pk=session.pk)
    _check_live(current, action)


# --- RSVP -------------------------------------------------------------------------------


@transaction.atomic
def rsvp_add(*, session: OfficeHoursSession, membership: Membership, at: dt.datetime | None = None) -> bool:
    """The member says they will come; True if the RSVP is new."""
    check_member(session, membership)
    at = at or timezone.now()
    if session_is_over(session, at):
        raise LiveSessionError("This session is over, so it takes no more RSVPs.")
    _rsvp, created = SessionRSVP.objects.get_or_create(
        session=session, membership=membership, defaults={"created_at": at}
    )
    if created:
        session_touch(session=session)
    return created


@transaction.atomic
def rsvp_cancel(*, session: OfficeHoursSession, membership: Membership, at: dt.datetime | None = None) -> bool:
    """Take the RSVP back; True if there was one. After the session it stays as a record."""
    check_member(session, membership)
    if session_is_over(session, at or timezone.now()):
        raise LiveSessionError("This session is over; its RSVPs are kept as a record.")
    deleted, _ = SessionRSVP.objects.filter(session=session, membership=membership).delete()
    if deleted:
        session_touch(session=session)
    return deleted > 0


# --- Attendance -------------------------------------------------------------------------


def normalize_code(code: str) -> str:
    # Read aloud and typed on phones: case and stray spaces must not matter.
    return "".join(code.split()).upper()


@transaction.atomic
def attendance_check_in(
    *, session: OfficeHoursSession, membership: Membership, code: str, at: dt.datetime | None = None
) -> bool:
    """Check the member in with the session's code; True if newly present, False if they already were."""
    check_member(session, membership)
    _check_live(session, "check-in")
    typed = normalize_code(code)
    if not typed:
        raise LiveSessionError("Type the code your lead shows in the session.")
    wrong_key = f"check-in-wrong:{session.pk}:{membership.pk}"
    if (cache.get(wrong_key) or 0) >= WRONG_CODES_ALLOWED:
        raise LiveSessionError("Too many wrong codes. Ask your lead to mark you present.")
    if not hmac.compare_digest(typed.encode(), normalize_code(session.check_in_code).encode()):
        cache.add(wrong_key, 0, WRONG_CODES_WINDOW_SECONDS)
        cache.incr(wrong_key)
        raise LiveSessionError("That is not this session's code. Check it with your lead and try again.")
    at = at or timezone.now()
    _row, created = SessionAttendance.objects.get_or_create(
        session=session, membership=membership, defaults={"checked_in_at": at, "source": AttendanceSource.CODE}
    )
    if created:
        membership_touch(membership=membership, at=at)
        session_touch(session=session)
    return created


@transaction.atomic
def attendance_mark(
    *, session: OfficeHoursSession, membership: Membership, by: User, at: dt.datetime | None = None
) -> bool:
    """A lead records that the member was there; True if new. A code check-in already there is kept as it is."""
    check_member(session, membership)
    at = at or timezone.now()
    if not session_has_started(session, at):
        raise LiveSessionError("Attendance can be marked once the session has started.")
    _row, created = SessionAttendance.objects.get_or_create(
        session=session,
        membership=membership,
        defaults={"checked_in_at": at, "source": AttendanceSource.LEAD, "marked_by": by},
    )
    if created:
        membership_touch(membership=membership, at=at)
        session_touch(session=session)
    return created


@transaction.atomic
def attendance_unmark(*, session: OfficeHoursSession, membership: Membership) -> bool:
    """A lead removes a wrong mark or check-in; True if there was one."""
    check_member(session, membership)
    deleted, _ = SessionAttendance.objects.filter(session=session, membership=membership).delete()
    if deleted:
        session_touch(session=session)
    return deleted > 0


# --- Help queue -------------------------------------------------------------------------


@dataclass(frozen=True)
class Capsule:
    """What a helper asks first, collected when a learner joins the queue; every field is optional."""

    os: str = ""
    python: str = ""
    compiler: str = ""
    llama_cpp: str = ""
    model_file: str = ""
    model_sha256: str = ""
    command: str = ""
    error_log: str = ""


CAPSULE_FIELDS = ("os", "python", "compiler", "llama_cpp", "model_file", "model_sha256", "command", "error_log")


def capsule_limit(name: str) -> int:
    """The model's bound for one capsule field: forms and this module share it."""
    field = HelpRequest._meta.get_field(f"capsule_{name}")
    return (field.max_length if isinstance(field, models.Field) else None) or HELP_ERROR_LOG_MAX_CHARS


def _clean_capsule(capsule: Capsule) -> dict[str, str]:
    fields = {}
    for name in CAPSULE_FIELDS:
        limit = capsule_limit(name)
        value = getattr(capsule, name)
        # Logs keep their inner layout (indentation matters in tracebacks); only the ends are trimmed.
        value = value.strip("\n\r ") if name == "error_log" else value.strip()
        if len(value) > limit:
            raise LiveSessionError(f"Keep the {name.replace('_', ' ')} under {limit} characters (it has {len(value)}).")
        fields[f"capsule_{name}"] = value
    sha = fields["capsule_model_sha256"].lower()
    if sha and not re.fullmatch(SHA256_RE, sha):
        raise LiveSessionError("A sha256 is 64 hexadecimal characters.")
    fields["capsule_model_sha256"] = sha
    return fields


def _clean_description(description: str) -> str:
    description = description.strip()
    if not description:
        raise LiveSessionError("Say in a sentence what you are stuck on.")
    if len(description) > HELP_DESCRIPTION_MAX_CHARS:
        raise LiveSessionError(
            f"Keep the description under {HELP_DESCRIPTION_MAX_CHARS} characters (it has {len(description)})."
        )
    return description


def _open_request(session: OfficeHoursSession, membership: Membership) -> HelpRequest | None:
    return HelpRequest.objects.filter(session=session, membership=membership, status__in=OPEN_STATUSES).first()


@transaction.atomic
def help_request_join(
    *,
    session: OfficeHoursSession,
    membership: Membership,
    description: str,
    capsule: Capsule | None = None,
    at: dt.datetime | None = None,
) -> tuple[HelpRequest, bool]:
    """Put the member at the back of the live queue; (their open request, whether it is new).

    A member already waiting or being helped keeps their place: nothing changes.
    """
    check_member(session, membership)
    _check_live_locked(session, "the help queue")
    existing = _open_request(session, membership)
    if existing is not None:
        return existing, False
    fields = {"description": _clean_description(description), **_clean_capsule(capsule or Capsule())}
    at = at or timezone.now()
    # Membership is per cohort, so this is "no earlier request in any session of the cohort".
    first_time = not HelpRequest.objects.filter(membership=membership).exists()
    try:
        # A savepoint, so a second tab that wins the race leaves this transaction usable.
        with transaction.atomic():
            request = HelpRequest.objects.create(
                session=session, membership=membership, joined_at=at, first_time=first_time, **fields
            )
    except IntegrityError:
        existing = _open_request(session, membership)
        if existing is None:
            raise
        return existing, False
    membership_touch(membership=membership, at=at)
    logger.info("membership %s joined the help queue of session %s", membership.pk, session.pk)
    return request, True


@transaction.atomic
def help_request_leave(*, session: OfficeHoursSession, membership: Membership, at: dt.datetime | None = None) -> bool:
    """The member gives up their open place; True if they had one."""
    check_member(session, membership)
    # The session row first, then the request: the order take and the end of a session use (no deadlock).
    session_touch(session=session)
    request = (
        HelpRequest.objects.select_for_update()
        .filter(session=session, membership=membership, status__in=OPEN_STATUSES)
        .first()
    )
    if request is None:
        return False
    request.status = HelpRequestStatus.LEFT
    request.finished_at = at or timezone.now()
    request.save(update_fields=["status", "finished_at"])
    return True


def _locked(session: OfficeHoursSession, request: HelpRequest) -> HelpRequest:
    """The request's current row, locked, so two helpers clicking at once see each other's change."""
    current = HelpRequest.objects.select_for_update().get(pk=request.pk)
    if current.session_id != session.pk:
        raise LiveSessionError("That request belongs to another session.")
    return current


@transaction.atomic
def help_request_take(
    *, session: OfficeHoursSession, request: HelpRequest, helper: User, at: dt.datetime | None = None
) -> HelpRequest:
    """A lead or mentor starts helping a waiting learner; refused if someone got there first or they left."""
    # The session row first, then the request: the same order as ending a session, so the two never deadlock.
    _check_live_locked(session, "the help queue")
    current = _locked(session, request)
    if current.status == HelpRequestStatus.HELPING:
        raise LiveSessionError("Someone is already helping this learner.")
    if current.status != HelpRequestStatus.WAITING:
        raise LiveSessionError("This learner is no longer waiting.")
    current.status = HelpRequestStatus.HELPING
    current.started_at = at or timezone.now()
    current.helped_by = helper
    current.save(update_fields=["status", "started_at", "helped_by"])
    return current


def _clean_note(note: str) -> str:
    note = note.strip()
    if len(note) > HELP_NOTE_MAX_CHARS:
        raise LiveSessionError(f"Keep the note under {HELP_NOTE_MAX_CHARS} characters (it has {len(note)}).")
    return note


def _clean_resolution(resolution: str) -> str:
    if resolution and resolution not in HelpResolution.values:
        raise LiveSessionError("Pick one of the listed resolutions.")
    return resolution


@transaction.atomic
def help_request_finish(
    *,
    session: OfficeHoursSession,
    request: HelpRequest,
    resolution: str = "",
    note: str | None = None,
    at: dt.datetime | None = None,
) -> HelpRequest:
    """Close a request being helped as done, with an optional resolution tag and private note."""
    resolution = _clean_resolution(resolution)
    session_touch(session=session)  # the session row before the request's, as everywhere (rolled back on refusal)
    current = _locked(session, request)
    if current.status == HelpRequestStatus.DONE:
        raise LiveSessionError("This request is already finished.")
    if current.status != HelpRequestStatus.HELPING:
        raise LiveSessionError("Take this request before finishing it.")
    current.status = HelpRequestStatus.DONE
    current.finished_at = at or timezone.now()
    fields = ["status", "finished_at"]
    if resolution:
        current.resolution = resolution
        fields.append("resolution")
    if note is not None:
        current.staff_note = _clean_note(note)
        fields.append("staff_note")
    current.save(update_fields=fields)
    return current


@transaction.atomic
def help_request_put_back(*, session: OfficeHoursSession, request: HelpRequest) -> HelpRequest:
    """A helper hands a request back to the queue (called away, wrong helper): waiting again, at its old place.

    `joined_at` is kept, so the learner is not sent to the back for something
    they did not do; the helper and start time are cleared.
    """
    _check_live_locked(session, "the help queue")
    current = _locked(session, request)
    if current.status != HelpRequestStatus.HELPING:
        raise LiveSessionError("Only a request being helped can be put back in the queue.")
    current.status = HelpRequestStatus.WAITING
    current.started_at = None
    current.helped_by = None
    current.save(update_fields=["status", "started_at", "helped_by"])
    return current


@transaction.atomic
def help_request_annotate(
    *, session: OfficeHoursSession, request: HelpRequest, note: str, resolution: str
) -> HelpRequest:
    """Set a request's private note and resolution tag (any time, also after the session). Learners never see them."""
    note, resolution = _clean_note(note), _clean_resolution(resolution)
    session_touch(session=session)  # the session row before the request's, as everywhere
    current = _locked(session, request)
    current.staff_note = note
    current.resolution = resolution
    current.save(update_fields=["staff_note", "resolution"])
    return current


# --- Live page: announcements and the help room --------------------------------------------


@transaction.atomic
def announcement_post(
    *, session: OfficeHoursSession, author: User, body: str, at: dt.datetime | None = None
) -> SessionAnnouncement:
    """A lead's short line to everyone on the live page; shown within a poll (a second or two)."""
    body = " ".join(body.split())
    if not body:
        raise LiveSessionError("Write the announcement first.")
    if len(body) > ANNOUNCEMENT_MAX_CHARS:
        raise LiveSessionError(f"Keep announcements under {ANNOUNCEMENT_MAX_CHARS} characters (it has {len(body)}).")
    if session.status == SessionStatus.ENDED:
        raise LiveSessionError("This session has ended: nobody is on its live page any more.")
    announcement = SessionAnnouncement.objects.create(
        session=session, author=author, body=body, created_at=at or timezone.now()
    )
    session_touch(session=session)
    return announcement


@transaction.atomic
def announcement_delete(*, session: OfficeHoursSession, announcement_id: int) -> bool:
    deleted, _ = SessionAnnouncement.objects.filter(session=session, pk=announcement_id).delete()
    if deleted:
        session_touch(session=session)
    return deleted > 0


@transaction.atomic
def session_set_help_room(*, session: OfficeHoursSession, url: str) -> OfficeHoursSession:
    """The link a learner being helped follows (validated as a URL by the form); empty removes it."""
    session.help_room_url = url.strip()
    session.save(update_fields=["help_room_url"])
    session_touch(session=session)
    return session


def help_queue_close(*, session: OfficeHoursSession, at: dt.datetime | None = None) -> int:
    """Close every open place when the session ends; how many were open.

    Nobody is helped after the session, so a place must not stay "waiting" for
    ever (it would also keep that learner "in the queue" if the session were
    reopened by mistake). Waiting places become `left` (the queue closed before
    their turn); a place being helped becomes `done` (the helper was with them
    when the session ended). `finished_at` records when. Conditional UPDATEs, so
    a learner leaving or a helper finishing at the same moment is not undone.
    """
    at = at or timezone.now()
    open_requests = HelpRequest.objects.filter(session=session)
    left = open_requests.filter(status=HelpRequestStatus.WAITING).update(status=HelpRequestStatus.LEFT, finished_at=at)
    done = open_requests.filter(status=HelpRequestStatus.HELPING).update(status=HelpRequestStatus.DONE, finished_at=at)
    session_touch(session=session)
    if left or done:
        logger.info("session %s ended: %s waiting and %s helped requests closed", session.pk, left, done)
    return left + done
