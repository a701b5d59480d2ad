"""Roster CSV import for leads: every row is checked before anything is written.

A file with any bad row imports nothing and reports each problem by its line
number, so a lead fixes the file and uploads it again.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from cohort.models import Cohort, Invitation, Membership, Role, User, github_username_validator
from cohort.services import github_username_taken, user_fill_github_username
from cohort.tasks import send_invitations
from config.publish import publish_after_commit

REQUIRED_COLUMNS = {"email"}
KNOWN_COLUMNS = {"email", "name", "github_username", "role"}


@dataclass(frozen=True)
class RosterRow:
    line: int
    email: str
    name: str
    github_username: str
    role: str


@dataclass
class RosterResult:
    errors: list[tuple[int, str]] = field(default_factory=list)
    role_changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    invited: list[str] = field(default_factory=list)
    invitation_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_roster(content: bytes) -> tuple[list[RosterRow], list[tuple[int, str]]]:
    """Rows and (line, message) errors; line 1 is the header."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [(0, "The file is not UTF-8 text. Save it as “CSV UTF-8” and try again.")]
    reader = csv.DictReader(io.StringIO(text))
    header = {(h or "").strip().lower() for h in (reader.fieldnames or [])}
    if not header:
        return [], [
            (1, "The file is empty. The first line must name the columns, e.g. email,name,github_username,role.")
        ]
    missing = REQUIRED_COLUMNS - header
    if missing:
        return [], [(1, f"Missing column: {', '.join(sorted(missing))}.")]
    unknown = header - KNOWN_COLUMNS
    if unknown:
        return [], [(1, f"Unknown column: {', '.join(sorted(unknown))}. Use email, name, github_username, role.")]

    rows: list[RosterRow] = []
    errors: list[tuple[int, str]] = []
    seen_emails: dict[str, int] = {}
    seen_github: dict[str, int] = {}
    try:
        # The reader skips empty lines, so count lines with it rather than with the records.
        records = [(reader.line_num, record) for record in reader]
    except csv.Error as exc:
        return [], [(reader.line_num, f"The CSV could not be read: {exc}.")]
    if len(records) > settings.ROSTER_MAX_ROWS:
        return [], [(0, f"The file has {len(records)} rows; the limit is {settings.ROSTER_MAX_ROWS}.")]
    for index, record in records:
        values = {(k or "").strip().lower(): (v or "").strip() for k, v in record.items() if k is not None}
        if None in record:
            errors.append((index, "This row has more fields than the header."))
            continue
        if not any(values.values()):
            continue  # blank lines are harmless
        email = values.get("email", "").lower()
        github = values.get("github_username", "").lstrip("@")
        role = (values.get("role") or Role.LEARNER).lower()
        row_errors = []
        try:
            validate_email(email)
        except ValidationError:
            row_errors.append(f"“{email or '(empty)'}” is not a valid email address.")
        if email in seen_emails:
            row_errors.append(f"{email} is also on line {seen_emails[email]}.")
        if role not in Role.values:
            row_errors.append(f"Role “{role}” is not one of learner, mentor, lead.")
        if github:
            try:
                github_username_validator(github)
            except ValidationError:
                row_errors.append(f"“{github}” is not a valid GitHub username.")
            if github.lower() in seen_github:
                row_errors.append(f"GitHub username {github} is also on line {seen_github[github.lower()]}.")
        if len(values.get("name", "")) > 120:
            row_errors.append("The name is longer than 120 characters.")
        errors.extend((index, message) for message in row_errors)
        seen_emails.setdefault(email, index)
        if github:
            seen_github.setdefault(github.lower(), index)
        if not row_errors:
            rows.append(RosterRow(index, email, values.get("name", ""), github, role))
    return rows, errors


def _check_against_database(*, cohort: Cohort, rows: list[RosterRow]) -> list[tuple[int, str]]:
    """GitHub usernames that would clash, checked only for people already in the cohort.

    Anything said about other accounts (that one exists, or its GitHub login)
    would let a lead probe who has an account; their rows become invitations
    and the username is applied, if still free, when they accept.
    """
    members = {
        m.user.email.lower(): m.user
        for m in Membership.objects.filter(cohort=cohort, user__email__in=[r.email for r in rows]).select_related(
            "user"
        )
    }
    errors = []
    for row in rows:
        user = members.get(row.email)
        if not row.github_username:
            continue
        if user is None:
            # Not "belongs to another account": that would tell whether this email has it.
            if github_username_taken(username=row.github_username, exclude_user_id=None):
                errors.append((row.line, f"GitHub username {row.github_username} is already used by an account."))
            continue
        if user.github_username and user.github_username.lower() != row.github_username.lower():
            errors.append((row.line, f"{row.email} already has GitHub username {user.github_username}."))
        elif github_username_taken(username=row.github_username, exclude_user_id=user.pk):
            errors.append((row.line, f"GitHub username {row.github_username} belongs to another account."))
    return errors


def roster_import(*, cohort: Cohort, content: bytes, invited_by: User | None) -> RosterResult:
    """Add or update the cohort's members from a CSV; all rows or none."""
    rows, errors = parse_roster(content)
    if not errors:
        errors = _check_against_database(cohort=cohort, rows=rows)
    if errors:
        return RosterResult(errors=sorted(errors))
    if not rows:
        return RosterResult(errors=[(0, "The file has a header but no rows.")])
    result = RosterResult()
    with transaction.atomic():
        members = {
            m.user.email.lower(): m
            for m in Membership.objects.filter(cohort=cohort, user__email__in=[r.email for r in rows]).select_related(
                "user"
            )
        }
        for row in rows:
            membership = members.get(row.email)
            if membership is None:
                # New people and existing accounts alike get an invitation: nobody is
                # added without consent, and the result does not tell which is which.
                invitation, _ = Invitation.objects.update_or_create(
                    cohort=cohort,
                    email=row.email,
                    defaults={
                        "name": row.name,
                        "github_username": row.github_username,
                        "role": row.role,
                        "invited_by": invited_by,
                        "accepted_at": None,
                    },
                )
                result.invited.append(row.email)
                result.invitation_ids.append(invitation.pk)
                continue
            user_fill_github_username(user=membership.user, username=row.github_username)
            if membership.role != row.role:
                membership.role = row.role
                membership.save(update_fields=["role"])
                result.role_changed.append(row.email)
            else:
                result.unchanged.append(row.email)
        if result.invitation_ids:
            publish_after_commit(send_invitations, invitation_ids=list(result.invitation_ids))
    return result
