"""The full path with a real worker process: signed POST -> stored delivery -> worker -> state and progress."""

from __future__ import annotations

import time

import pytest

from cohort.models import ProgressStatus, StepProgress
from exercises.models import ChecksState, DeliveryStatus, Submission, SubmissionState, WebhookDelivery
from tests.exercises import payloads
from tests.worker import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _state():
    submission = Submission.objects.first()
    return submission and (submission.state, submission.checks_state, submission.head_sha)


def test_review_sequence_through_a_real_worker(celery_worker_process, exercise, post_event, world):
    steps = [
        ("pull_request", payloads.pr_event("opened"), (SubmissionState.OPEN, ChecksState.NONE, "a" * 40)),
        ("pull_request_review", payloads.review_event(state="changes_requested", review_id=1), (SubmissionState.CHANGES_REQUESTED, ChecksState.NONE, "a" * 40)),
        ("pull_request", payloads.pr_event("synchronize", sha="b" * 40, updated_at="2026-03-10T12:00:00Z"), (SubmissionState.CHANGES_REQUESTED, ChecksState.NONE, "b" * 40)),
        ("pull_request_review", payloads.review_event(state="approved", review_id=2, submitted_at="2026-03-10T13:00:00Z", sha="b" * 40, updated_at="2026-03-10T13:00:00Z"), (SubmissionState.APPROVED, ChecksState.NONE, "b" * 40)),
        ("check_suite", payloads.check_suite_event(conclusion="success", sha="b" * 40), (SubmissionState.APPROVED, ChecksState.SUCCESS, "b" * 40)),
        ("pull_request", payloads.pr_event("closed", state="closed", merged=True, sha="b" * 40, updated_at="2026-03-10T14:00:00Z"), (SubmissionState.MERGED, ChecksState.SUCCESS, "b" * 40)),
    ]  # fmt: skip
    lags = []
    for event, payload, expected in steps:
        started = time.monotonic()
        assert post_event(event, payload).status_code == 202
        wait_for(lambda expected=expected: _state() == expected, timeout=30, message=f"{event} -> {expected}")
        lags.append(time.monotonic() - started)

    assert StepProgress.objects.get(membership=world.alice_membership, step=exercise.step).status == ProgressStatus.DONE
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.PROCESSED}
    assert max(lags) < 10, lags
