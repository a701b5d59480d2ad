"""Builders for webhook payloads shaped like GitHub's documented ones (trimmed to the fields we read)."""

from __future__ import annotations

import json
import zlib

from exercises.github import sign

REPO = "first-break-ai/practice"
SECRET = "It's a Secret to Everybody"


def github_id(login: str) -> int:
    """A stable numeric account id per login, as GitHub gives every account one."""
    return zlib.crc32(login.lower().encode()) or 1


def repository(full_name: str = REPO) -> dict:
    owner, name = full_name.split("/")
    return {
        "id": 1296269,
        "name": name,
        "full_name": full_name,
        "owner": {"login": owner},
        "html_url": f"https://github.com/{full_name}",
    }


def pull_request(
    *, number: int = 7, login: str = "gh-alice", ref: str = "first-pr-alice", sha: str = "a" * 40, state: str = "open",
    draft: bool = False, merged: bool = False, updated_at: str = "2026-03-10T10:00:00Z", mergeable_state: str | None = "clean",
    title: str = "Add myself to LEARNERS.md", full_name: str = REPO,
) -> dict:  # fmt: skip
    return {
        "url": f"https://api.github.com/repos/{full_name}/pulls/{number}",
        "html_url": f"https://github.com/{full_name}/pull/{number}",
        "number": number,
        "state": state,
        "title": title,
        "user": {"login": login, "id": github_id(login)},
        "draft": draft,
        "head": {"ref": ref, "sha": sha},
        "base": {"ref": "main"},
        "created_at": "2026-03-10T09:00:00Z",
        "updated_at": updated_at,
        "closed_at": updated_at if state == "closed" else None,
        "merged_at": updated_at if merged else None,
        "merged": merged,
        "merged_by": {"login": "lead-bot"} if merged else None,
        "mergeable": None if mergeable_state in (None, "unknown") else mergeable_state != "dirty",
        "mergeable_state": mergeable_state,
    }


def pr_event(action: str, **pr) -> dict:
    pr_fields = pull_request(**pr)
    return {
        "action": action,
        "number": pr_fields["number"],
        "pull_request": pr_fields,
        "repository": repository(pr.get("full_name", REPO)),
        "sender": {"login": pr_fields["user"]["login"]},
    }


def review_event(
    *,
    state: str,
    review_id: int = 100,
    reviewer: str = "gh-lead",
    submitted_at: str = "2026-03-10T11:00:00Z",
    action: str = "submitted",
    number: int = 7,
    **pr,
) -> dict:
    return {
        "action": action,
        "review": {
            "id": review_id,
            "user": {"login": reviewer},
            "body": "",
            "state": state,
            "submitted_at": submitted_at,
            "commit_id": pr.get("sha", "a" * 40),
            "html_url": f"https://github.com/{REPO}/pull/{number}#pullrequestreview-{review_id}",
        },
        "pull_request": pull_request(number=number, **pr),
        "repository": repository(),
        "sender": {"login": reviewer},
    }


def check_suite_event(
    *, conclusion: str = "success", sha: str = "a" * 40, number: int = 7, suite_id: int = 500, status: str = "completed",
    updated_at: str = "2026-03-10T12:00:00Z",
) -> dict:  # fmt: skip
    return {
        "action": "completed",
        "check_suite": {
            "id": suite_id,
            "head_sha": sha,
            "status": status,
            "conclusion": conclusion,
            "app": {"name": "GitHub Actions"},
            "pull_requests": [{"number": number, "head": {"sha": sha}}],
            "updated_at": updated_at,
        },
        "repository": repository(),
    }


def issue_comment_event(*, body: str = "Looks good!", number: int = 7, on_pr: bool = True) -> dict:
    issue = {"number": number, "title": "x"}
    if on_pr:
        issue["pull_request"] = {"url": f"https://api.github.com/repos/{REPO}/pulls/{number}"}
    return {
        "action": "created",
        "issue": issue,
        "comment": {
            "id": 900 + number,
            "body": body,
            "user": {"login": "gh-lead"},
            "created_at": "2026-03-10T10:30:00Z",
            "html_url": f"https://github.com/{REPO}/pull/{number}#issuecomment-1",
        },
        "repository": repository(),
    }


def signed_headers(body: bytes, *, event: str, delivery: str, hook_id: str = "42", secret: str = SECRET) -> dict:
    return {
        "HTTP_X_HUB_SIGNATURE_256": sign(secret, body),
        "HTTP_X_GITHUB_EVENT": event,
        "HTTP_X_GITHUB_DELIVERY": delivery,
        "HTTP_X_GITHUB_HOOK_ID": hook_id,
    }


def encode(payload: dict) -> bytes:
    return json.dumps(payload).encode()
