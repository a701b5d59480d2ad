"""Comments on GitHub, against a fake GitHub API server on loopback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from exercises.models import Submission
from exercises.notify import GitHubUnavailable, submission_comment
from exercises.services import submission_link
from tests.exercises import payloads

pytestmark = pytest.mark.django_db


class FakeGitHub:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.fail_next = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if fake.fail_next:
                    fake.fail_next -= 1
                    self.send_response(502)
                    self.end_headers()
                    return
                fake.requests.append({"path": self.path, "body": body, "auth": self.headers["Authorization"]})
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"id": 1}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def github(settings):
    fake = FakeGitHub()
    settings.GITHUB_API_URL = fake.url
    settings.GITHUB_TOKEN = "test-token"
    yield fake
    fake.close()


def test_linked_comment_posted_once(github, exercise, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        submission = submission_link(
            membership=world.alice_membership, exercise=exercise, pr_url=f"https://github.com/{payloads.REPO}/pull/7"
        )

    assert submission_comment(submission_id=submission.pk, kind="linked") is True
    assert submission_comment(submission_id=submission.pk, kind="linked") is False

    assert len(github.requests) == 1
    request = github.requests[0]
    assert request["path"] == f"/repos/{payloads.REPO}/issues/7/comments"
    assert "Open your first pull request" in request["body"]["body"] and "@gh-alice" in request["body"]["body"]
    assert request["auth"] == "Bearer test-token"


def test_comment_released_on_transient_failure_so_a_retry_posts_it(
    github, exercise, world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        submission = submission_link(
            membership=world.alice_membership, exercise=exercise, pr_url=f"https://github.com/{payloads.REPO}/pull/8"
        )
    github.fail_next = 1

    with pytest.raises(GitHubUnavailable):
        submission_comment(submission_id=submission.pk, kind="completed")
    assert Submission.objects.get(pk=submission.pk).completed_comment_at is None

    assert submission_comment(submission_id=submission.pk, kind="completed") is True
    assert len(github.requests) == 1


def test_no_token_means_no_comment(settings, exercise, world, django_capture_on_commit_callbacks):
    settings.GITHUB_TOKEN = ""
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        submission = submission_link(
            membership=world.alice_membership, exercise=exercise, pr_url=f"https://github.com/{payloads.REPO}/pull/9"
        )

    assert callbacks == []
    assert submission_comment(submission_id=submission.pk, kind="linked") is False
