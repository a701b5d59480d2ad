from __future__ import annotations

import pytest

from cohort.models import ProgressStatus, StepProgress
from exercises.deliveries import deliveries_sweep, delivery_process, delivery_record_failure, delivery_replay
from exercises.models import (
    ChecksState,
    CompletionRule,
    DeliveryStatus,
    ExerciseCompletion,
    Review,
    Submission,
    SubmissionState,
    TimelineEvent,
    WebhookDelivery,
)
from exercises.services import LinkError, submission_link
from tests.exercises import payloads

pytestmark = pytest.mark.django_db


@pytest.fixture
def deliver(post_event):
    """Store a signed delivery through the real intake, then apply it (as the worker would)."""

    def deliver(event: str, payload: dict, **kwargs) -> WebhookDelivery:
        response = post_event(event, payload, **kwargs)
        assert response.status_code in (200, 202), response.content
        delivery = WebhookDelivery.objects.get(
            delivery_id=response.json()["delivery"], hook_id=kwargs.get("hook_id", "42")
        )
        delivery_process(delivery_id=delivery.pk)
        delivery.refresh_from_db()
        return delivery

    return deliver


def test_opened_pr_with_slug_in_branch_by_a_learner_links_automatically(exercise, deliver, world):
    delivery = deliver("pull_request", payloads.pr_event("opened", ref="first-pr-alice"))

    submission = Submission.objects.get()
    assert delivery.status == DeliveryStatus.PROCESSED
    assert (submission.membership, submission.exercise, submission.state) == (
        world.alice_membership,
        exercise,
        SubmissionState.OPEN,
    )
    assert submission.head_sha == "a" * 40
    assert (
        StepProgress.objects.get(membership=world.alice_membership, step=exercise.step).status
        == ProgressStatus.IN_PROGRESS
    )


def test_opened_pr_by_unknown_user_is_ignored(exercise, deliver):
    delivery = deliver("pull_request", payloads.pr_event("opened", login="stranger"))

    assert delivery.status == DeliveryStatus.IGNORED
    assert not Submission.objects.exists()


def test_unused_event_is_stored_as_ignored_without_side_effects(exercise, deliver):
    delivery = deliver("star", {"action": "created", "repository": payloads.repository()})

    assert delivery.status == DeliveryStatus.IGNORED
    assert not Submission.objects.exists()


def test_full_review_sequence_moves_state_and_completes_on_merge(exercise, deliver, world):
    deliver("pull_request", payloads.pr_event("opened"))
    deliver(
        "pull_request_review",
        payloads.review_event(
            state="changes_requested",
            review_id=1,
            submitted_at="2026-03-10T11:00:00Z",
            updated_at="2026-03-10T11:00:00Z",
        ),
    )
    assert Submission.objects.get().state == SubmissionState.CHANGES_REQUESTED

    deliver("pull_request", payloads.pr_event("synchronize", sha="b" * 40, updated_at="2026-03-10T12:00:00Z"))
    deliver(
        "pull_request_review",
        payloads.review_event(
            state="approved",
            review_id=2,
            submitted_at="2026-03-10T13:00:00Z",
            sha="b" * 40,
            updated_at="2026-03-10T13:00:00Z",
        ),
    )
    deliver("check_suite", payloads.check_suite_event(conclusion="success", sha="b" * 40))
    submission = Submission.objects.get()
    assert (submission.state, submission.checks_state, submission.review_rounds) == (
        SubmissionState.APPROVED,
        ChecksState.SUCCESS,
        2,
    )
    assert submission.completed_at is None  # rule is "merged"

    deliver(
        "pull_request",
        payloads.pr_event("closed", state="closed", merged=True, sha="b" * 40, updated_at="2026-03-10T14:00:00Z"),
    )

    submission.refresh_from_db()
    assert submission.state == SubmissionState.MERGED
    assert submission.completed_at is not None
    assert ExerciseCompletion.objects.filter(membership=world.alice_membership, exercise=exercise).exists()
    assert StepProgress.objects.get(membership=world.alice_membership, step=exercise.step).status == ProgressStatus.DONE
    kinds = list(submission.timeline.values_list("kind", flat=True))
    assert (
        kinds[:2] == ["linked", "pr_opened"]
        and "review_changes_requested" in kinds
        and "pr_closed" in kinds
        and "completed" in kinds
    )


def test_approved_and_checks_green_rule_needs_green_checks_on_current_head(exercise, deliver):
    exercise.completion_rule = CompletionRule.APPROVED_AND_CHECKS_GREEN
    exercise.save()
    deliver("pull_request", payloads.pr_event("opened", sha="b" * 40))
    deliver("pull_request_review", payloads.review_event(state="approved", review_id=3, sha="b" * 40))
    deliver("check_suite", payloads.check_suite_event(conclusion="success", sha="a" * 40, suite_id=1))  # an old SHA
    assert Submission.objects.get().completed_at is None

    deliver("check_suite", payloads.check_suite_event(conclusion="success", sha="b" * 40, suite_id=2))

    assert Submission.objects.get().completed_at is not None


def test_failed_checks_on_head_show_failure(exercise, deliver):
    deliver("pull_request", payloads.pr_event("opened"))
    deliver("check_suite", payloads.check_suite_event(conclusion="failure"))

    assert Submission.objects.get().checks_state == ChecksState.FAILURE


def test_older_synchronize_after_newer_does_not_move_head_back(exercise, deliver):
    deliver("pull_request", payloads.pr_event("opened"))
    deliver("pull_request", payloads.pr_event("synchronize", sha="c" * 40, updated_at="2026-03-10T15:00:00Z"))
    deliver("pull_request", payloads.pr_event("synchronize", sha="b" * 40, updated_at="2026-03-10T12:00:00Z"))

    assert Submission.objects.get().head_sha == "c" * 40


def test_older_review_after_newer_does_not_move_state_back(exercise, deliver):
    deliver("pull_request", payloads.pr_event("opened"))
    deliver(
        "pull_request_review",
        payloads.review_event(state="approved", review_id=11, submitted_at="2026-03-10T15:00:00Z"),
    )
    deliver(
        "pull_request_review",
        payloads.review_event(state="changes_requested", review_id=10, submitted_at="2026-03-10T12:00:00Z"),
    )

    assert Submission.objects.get().state == SubmissionState.APPROVED


def test_late_open_event_after_merge_keeps_merged(exercise, deliver):
    deliver(
        "pull_request",
        payloads.pr_event("closed", state="closed", merged=True, updated_at="2026-03-10T16:00:00Z", ref="first-pr-x"),
    )
    deliver("pull_request", payloads.pr_event("opened", updated_at="2026-03-10T09:00:00Z"))

    assert Submission.objects.get().state == SubmissionState.MERGED


def test_dismissed_review_no_longer_counts(exercise, deliver):
    deliver("pull_request", payloads.pr_event("opened"))
    deliver("pull_request_review", payloads.review_event(state="changes_requested", review_id=20))
    deliver(
        "pull_request_review",
        payloads.review_event(state="dismissed", review_id=20, action="dismissed", submitted_at="2026-03-10T11:00:00Z"),
    )

    assert Submission.objects.get().state == SubmissionState.OPEN


def test_draft_then_ready_for_review(exercise, deliver):
    deliver("pull_request", payloads.pr_event("opened", draft=True))
    assert Submission.objects.get().state == SubmissionState.DRAFT

    deliver("pull_request", payloads.pr_event("ready_for_review", updated_at="2026-03-10T10:05:00Z"))

    assert Submission.objects.get().state == SubmissionState.OPEN


def test_merge_conflict_is_flagged_and_cleared(exercise, deliver):
    deliver("pull_request", payloads.pr_event("opened", mergeable_state="dirty"))
    assert Submission.objects.get().has_conflict is True

    deliver(
        "pull_request", payloads.pr_event("synchronize", mergeable_state="clean", updated_at="2026-03-10T12:00:00Z")
    )

    assert Submission.objects.get().has_conflict is False


def test_comments_add_timeline_entries(exercise, deliver):
    deliver("pull_request", payloads.pr_event("opened"))
    deliver("issue_comment", payloads.issue_comment_event(body="Nice work"))

    assert TimelineEvent.objects.filter(kind="comment", summary__contains="Nice work").exists()


def test_comment_on_plain_issue_is_ignored(exercise, deliver):
    assert deliver("issue_comment", payloads.issue_comment_event(on_pr=False)).status == DeliveryStatus.IGNORED


def test_same_delivery_processed_twice_applies_once(exercise, deliver):
    delivery = deliver("pull_request", payloads.pr_event("opened"))

    assert delivery_process(delivery_id=delivery.pk) is None
    assert TimelineEvent.objects.filter(kind="pr_opened").count() == 1


def test_replay_reapplies_without_duplicating(exercise, deliver, django_capture_on_commit_callbacks):
    delivery = deliver("pull_request", payloads.pr_event("opened"))

    with django_capture_on_commit_callbacks(execute=False):
        delivery_replay(delivery=delivery)
    delivery_process(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PROCESSED
    assert Submission.objects.count() == 1
    assert TimelineEvent.objects.filter(kind="pr_opened").count() == 1


def test_failure_is_recorded_then_final_after_bound(exercise, post_event):
    response = post_event("pull_request", payloads.pr_event("opened"))
    delivery = WebhookDelivery.objects.get(delivery_id=response.json()["delivery"])

    delivery_record_failure(delivery_id=delivery.pk, error="boom", final=False)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.error) == (DeliveryStatus.PENDING, 1, "boom")

    delivery_record_failure(delivery_id=delivery.pk, error="boom again", final=True)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 2)


def test_sweep_publishes_old_pending_deliveries(exercise, post_event):
    from datetime import timedelta

    from django.utils import timezone

    post_event("pull_request", payloads.pr_event("opened"))
    WebhookDelivery.objects.update(received_at=timezone.now() - timedelta(minutes=10))

    assert deliveries_sweep() == 1


def test_link_by_url_checks_repository_and_author(exercise, world, deliver):
    with pytest.raises(LinkError, match="Open the pull request in"):
        submission_link(
            membership=world.alice_membership, exercise=exercise, pr_url="https://github.com/someone/else/pull/1"
        )
    with pytest.raises(LinkError, match="not a GitHub pull request URL"):
        submission_link(membership=world.alice_membership, exercise=exercise, pr_url="https://example.com/x")

    world.bob.github_username, world.bob.github_confirmed_at = "gh-bob", world.alice.github_confirmed_at
    world.bob.save()
    submission = submission_link(
        membership=world.bob_membership, exercise=exercise, pr_url=f"https://github.com/{payloads.REPO}/pull/7"
    )
    deliver("pull_request", payloads.pr_event("opened", login="a-stranger", ref="unrelated"))

    submission.refresh_from_db()
    assert "Only your own pull requests count" in submission.refused_reason


def test_link_by_url_refuses_a_pr_linked_by_someone_else(exercise, world, deliver):
    submission_link(
        membership=world.alice_membership, exercise=exercise, pr_url=f"https://github.com/{payloads.REPO}/pull/9"
    )

    with pytest.raises(LinkError, match="linked this pull request first"):
        submission_link(
            membership=world.bob_membership, exercise=exercise, pr_url=f"https://github.com/{payloads.REPO}/pull/9"
        )
    deliver("pull_request", payloads.pr_event("opened", number=9, ref="unrelated"))  # GitHub: alice is the author
    with pytest.raises(LinkError, match="@gh-alice opened this pull request"):
        submission_link(
            membership=world.bob_membership, exercise=exercise, pr_url=f"https://github.com/{payloads.REPO}/pull/9"
        )


# --- Merge conflicts (issue 17) ---------------------------------------------------------


def test_dirty_then_unknown_after_push_then_merged_clears_the_conflict(exercise, deliver, world):
    deliver("pull_request", payloads.pr_event("opened", mergeable_state="dirty"))
    assert Submission.objects.get().has_conflict is True

    # Right after a push GitHub recomputes: mergeable null, mergeable_state "unknown".
    deliver(
        "pull_request",
        payloads.pr_event("synchronize", sha="b" * 40, mergeable_state="unknown", updated_at="2026-03-10T11:00:00Z"),
    )
    submission = Submission.objects.get()
    assert (submission.has_conflict, submission.conflict_checking) == (False, True)

    deliver(
        "pull_request",
        payloads.pr_event(
            "closed", state="closed", merged=True, sha="b" * 40, mergeable_state="unknown",
            updated_at="2026-03-10T12:00:00Z",
        ),
    )  # fmt: skip

    submission.refresh_from_db()
    assert (submission.state, submission.has_conflict, submission.conflict_checking) == ("merged", False, False)
    page = world.client_for(world.alice).get(f"/c/{world.cohort.slug}/submissions/{submission.pk}/").content.decode()
    assert "Merged" in page and "merge conflict</strong>" not in page and "Checking for conflicts" not in page


def test_unknown_without_a_new_head_keeps_the_verdict(exercise, deliver):
    deliver("pull_request", payloads.pr_event("opened", mergeable_state="dirty"))
    deliver("pull_request", payloads.pr_event("edited", mergeable_state="unknown", updated_at="2026-03-10T11:00:00Z"))

    submission = Submission.objects.get()
    assert (submission.has_conflict, submission.conflict_checking) == (True, False)


def test_each_conflict_and_each_resolution_is_its_own_timeline_entry(exercise, deliver):
    states = ["dirty", "clean", "dirty", "dirty", "clean"]
    for minute, state in enumerate(states):
        deliver(
            "pull_request",
            payloads.pr_event("synchronize" if minute else "opened", mergeable_state=state,
                              updated_at=f"2026-03-10T10:{minute:02d}:00Z"),
        )  # fmt: skip

    kinds = list(
        TimelineEvent.objects.filter(kind__in=["conflict", "conflict_resolved"]).values_list("kind", flat=True)
    )
    assert kinds == ["conflict", "conflict_resolved", "conflict", "conflict_resolved"]


def test_replaying_a_conflict_delivery_adds_nothing(exercise, deliver, django_capture_on_commit_callbacks):
    delivery = deliver("pull_request", payloads.pr_event("opened", mergeable_state="dirty"))
    with django_capture_on_commit_callbacks(execute=False):
        delivery_replay(delivery=delivery)
    delivery_process(delivery_id=delivery.pk)

    assert TimelineEvent.objects.filter(kind="conflict").count() == 1


def test_conflict_shows_on_exercise_page_dashboard_panel_and_review_queue(exercise, deliver, world):
    deliver("pull_request", payloads.pr_event("opened", mergeable_state="dirty"))
    alice, lead = world.client_for(world.alice), world.client_for(world.lead)

    pages = {
        "exercise page": alice.get(f"/c/{world.cohort.slug}/exercises/first-pr/"),
        "dashboard": alice.get(f"/c/{world.cohort.slug}/"),
        "dashboard panel": alice.get(f"/c/{world.cohort.slug}/exercises/panel/"),
        "review queue": lead.get(f"/c/{world.cohort.slug}/lead/reviews/"),
    }

    for name, response in pages.items():
        assert response.status_code == 200, name
        assert ">Conflict</" in response.content.decode(), name


def test_checking_shows_after_a_push_until_github_answers(exercise, deliver, world):
    deliver("pull_request", payloads.pr_event("opened", mergeable_state="clean"))
    deliver(
        "pull_request",
        payloads.pr_event("synchronize", sha="b" * 40, mergeable_state=None, updated_at="2026-03-10T11:00:00Z"),
    )

    panel = world.client_for(world.alice).get(f"/c/{world.cohort.slug}/exercises/panel/").content.decode()
    assert ">Checking</" in panel


# --- Check results arriving out of order (issue 10, item 18) ---------------------------------


def test_an_older_check_suite_arriving_late_does_not_overwrite_a_newer_one(exercise, deliver):
    deliver("pull_request", payloads.pr_event("opened"))
    # The suite was re-run: the re-run's failure (13:00) arrives before the first run's success (12:00).
    deliver("check_suite", payloads.check_suite_event(conclusion="failure", updated_at="2026-03-10T13:00:00Z"))
    deliver("check_suite", payloads.check_suite_event(conclusion="success", updated_at="2026-03-10T12:00:00Z"))

    assert Submission.objects.get().checks_state == ChecksState.FAILURE


def test_a_newer_check_suite_replaces_an_older_one(exercise, deliver):
    deliver("pull_request", payloads.pr_event("opened"))
    deliver("check_suite", payloads.check_suite_event(conclusion="failure", updated_at="2026-03-10T12:00:00Z"))
    deliver("check_suite", payloads.check_suite_event(conclusion="success", updated_at="2026-03-10T13:00:00Z"))

    assert Submission.objects.get().checks_state == ChecksState.SUCCESS


# --- The retry wrapper of delivery processing (issue 10, item 18) ----------------------------


def test_process_delivery_task_retries_then_marks_the_delivery_failed(exercise, deliver, post_event):
    from exercises import tasks

    deliver("pull_request", payloads.pr_event("opened"))
    broken = payloads.review_event(state="approved")
    del broken["review"]["id"]  # a payload the handler cannot apply: KeyError every time
    response = post_event("pull_request_review", broken)
    delivery = WebhookDelivery.objects.get(delivery_id=response.json()["delivery"])

    result = tasks.process_delivery.apply(kwargs={"delivery_id": delivery.pk})

    delivery.refresh_from_db()
    assert result.get() == "failed"
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, tasks.MAX_DELIVERY_ATTEMPTS)
    assert delivery.error.startswith("KeyError")
    assert not Review.objects.exists()  # every attempt rolled back


def test_process_delivery_task_succeeds_on_a_later_attempt(exercise, post_event, monkeypatch):
    from exercises import deliveries, tasks

    response = post_event("pull_request", payloads.pr_event("opened"))
    delivery = WebhookDelivery.objects.get(delivery_id=response.json()["delivery"])
    real, calls = deliveries.delivery_process, []

    def flaky(*, delivery_id):
        calls.append(delivery_id)
        if len(calls) == 1:
            raise ConnectionError("database went away")
        return real(delivery_id=delivery_id)

    monkeypatch.setattr(deliveries, "delivery_process", flaky)

    assert tasks.process_delivery.apply(kwargs={"delivery_id": delivery.pk}).get() == DeliveryStatus.PROCESSED
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.error) == (DeliveryStatus.PROCESSED, 2, "")
    assert Submission.objects.count() == 1


def test_an_older_check_run_arriving_late_does_not_overwrite_a_newer_one(exercise, deliver):
    def check_run(conclusion: str, completed_at: str) -> dict:
        return {
            "action": "completed",
            "check_run": {
                "id": 77, "name": "tests", "head_sha": "a" * 40, "status": "completed", "conclusion": conclusion,
                "started_at": "2026-03-10T11:00:00Z", "completed_at": completed_at,
                "pull_requests": [{"number": 7, "head": {"sha": "a" * 40}}],
            },
            "repository": payloads.repository(),
        }  # fmt: skip

    deliver("pull_request", payloads.pr_event("opened"))
    deliver("check_run", check_run("success", "2026-03-10T13:00:00Z"))  # the re-run, delivered first
    deliver("check_run", check_run("failure", "2026-03-10T12:00:00Z"))

    assert Submission.objects.get().checks_state == ChecksState.SUCCESS
