from __future__ import annotations

import pytest

from exercises.models import Exercise, ExerciseKind, Submission
from exercises.services import submission_link
from tests.exercises import payloads
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_submission(exercise, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        return submission_link(
            membership=world.alice_membership, exercise=exercise, pr_url=f"https://github.com/{payloads.REPO}/pull/7"
        )


def test_submission_page_owner_and_lead_see_it_other_learner_and_outsider_get_404(world, alice_submission):
    url = f"/c/{world.cohort.slug}/submissions/{alice_submission.pk}/"

    assert world.client_for(world.alice).get(url).status_code == 200
    assert world.client_for(world.lead).get(url).status_code == 200
    assert world.client_for(world.bob).get(url).status_code == 404
    assert world.client_for(world.outsider).get(url).status_code == 404
    assert world.client_for(None).get(url).status_code == 302


def test_submission_state_fragment_follows_the_same_rules(world, alice_submission):
    url = f"/c/{world.cohort.slug}/submissions/{alice_submission.pk}/state/"

    assert world.client_for(world.alice).get(url).status_code == 200
    assert world.client_for(world.bob).get(url).status_code == 404


def test_exercise_page_shows_the_linking_convention(world, exercise):
    response = world.client_for(world.alice).get(f"/c/{world.cohort.slug}/exercises/first-pr/")

    assert response.status_code == 200
    assert b"first-pr" in response.content and payloads.REPO.encode() in response.content
    assert world.client_for(world.outsider).get(f"/c/{world.cohort.slug}/exercises/first-pr/").status_code == 404


def test_link_form_links_and_shows_clear_errors(world, exercise):
    client = world.client_for(world.alice)
    url = f"/c/{world.cohort.slug}/exercises/first-pr/link/"

    bad = client.post(url, {"pr_url": "https://github.com/other/repo/pull/3"})
    good = client.post(url, {"pr_url": f"https://github.com/{payloads.REPO}/pull/3"})

    assert bad.status_code == 400 and "Open the pull request in" in bad.content.decode()
    assert good.status_code == 302
    assert Submission.objects.get().membership == world.alice_membership
    assert client.get(url).status_code == 405


def test_outsider_cannot_link_to_another_cohorts_exercise(world, exercise):
    response = world.client_for(world.outsider).post(
        f"/c/{world.cohort.slug}/exercises/first-pr/link/", {"pr_url": f"https://github.com/{payloads.REPO}/pull/3"}
    )

    assert response.status_code == 404
    assert not Submission.objects.exists()


def test_self_check_exercise_marks_done_and_step_progress(world):
    Exercise.objects.create(
        cohort=world.cohort,
        step=world.steps[1],
        title="Read the notes",
        slug="read-notes",
        kind=ExerciseKind.SELF_CHECK,
    )
    client = world.client_for(world.alice)

    response = client.post(f"/c/{world.cohort.slug}/exercises/read-notes/done/")

    assert response.status_code == 302
    page = client.get(f"/c/{world.cohort.slug}/").content.decode()
    assert "Done" in page


@pytest.mark.parametrize("page", ["reviews", "exercises"])
def test_lead_pages_permissions(world, exercise, alice_submission, page):
    url = f"/c/{world.cohort.slug}/lead/{page}/"

    assert world.client_for(world.lead).get(url).status_code == 200
    assert world.client_for(world.alice).get(url).status_code == 403
    assert world.client_for(world.outsider).get(url).status_code == 404
    assert world.client_for(None).get(url).status_code == 302


def test_review_queue_lists_open_submissions_with_constant_queries(
    world, exercise, alice_submission, django_assert_num_queries
):
    client = world.client_for(world.lead)
    client.get(f"/c/{world.cohort.slug}/lead/reviews/")  # warm session
    for n in range(5):
        member = MembershipFactory(cohort=world.cohort)
        Submission.objects.create(
            membership=member,
            exercise=exercise,
            repository=payloads.REPO,
            pr_number=100 + n,
            pr_url="https://github.com/x/y/pull/1",
        )

    # session, user, membership, the nav's blocked-learners badge, queue, comments GitHub has not taken
    with django_assert_num_queries(6):
        response = client.get(f"/c/{world.cohort.slug}/lead/reviews/")

    assert response.content.decode().count("/submissions/") == 6


def test_dashboard_exercise_panel_refreshes_with_current_states(world, alice_submission):
    url = f"/c/{world.cohort.slug}/exercises/panel/"
    Submission.objects.filter(pk=alice_submission.pk).update(state="approved")

    response = world.client_for(world.alice).get(url)

    assert response.status_code == 200 and "Approved" in response.content.decode()
    assert 'hx-trigger="every 15s"' in response.content.decode()
    assert world.client_for(world.outsider).get(url).status_code == 404
    assert "#7" not in world.client_for(world.bob).get(url).content.decode()


def test_submission_page_refreshes_timeline_rounds_and_merged_while_open(
    world, alice_submission, django_assert_num_queries
):
    from django.utils import timezone

    from exercises.models import TimelineEvent

    client = world.client_for(world.alice)
    url = f"/c/{world.cohort.slug}/submissions/{alice_submission.pk}/state/"
    client.get(url)
    page = client.get(f"/c/{world.cohort.slug}/submissions/{alice_submission.pk}/").content.decode()
    assert 'hx-get="' + url + '"' in page and 'id="submission-live"' in page

    now = timezone.now()
    Submission.objects.filter(pk=alice_submission.pk).update(state="merged", merged_at=now, review_rounds=3)
    for n in range(5):
        TimelineEvent.objects.create(submission=alice_submission, kind="comment", summary=f"Note {n}", occurred_at=now)

    with django_assert_num_queries(5):  # session, user, membership, submission, timeline
        fragment = client.get(url).content.decode()

    assert "Merged" in fragment and "Note 4" in fragment and '<p class="big-number">3</p>' in fragment
    assert 'id="submission-live"' in fragment


def test_review_queue_shows_comments_github_has_not_taken(world, alice_submission):
    from django.utils import timezone

    from exercises.models import CommentStatus, PullRequestComment

    PullRequestComment.objects.create(
        submission=alice_submission, kind="linked", status=CommentStatus.FAILED, next_attempt_at=timezone.now(),
        attempts=1, error="GitHub answered 404: Not Found",
    )  # fmt: skip
    PullRequestComment.objects.create(
        submission=alice_submission, kind="completed", next_attempt_at=timezone.now(), attempts=4,
        error="Attempt 4: GitHub answered 502",
    )  # fmt: skip

    page = world.client_for(world.lead).get(f"/c/{world.cohort.slug}/lead/reviews/").content.decode()

    assert "GitHub answered 404: Not Found" in page and "Attempt 4: GitHub answered 502" in page
    assert "Failed" in page and "Waiting" in page


def test_admin_lists_comments_and_retries_a_failed_one(
    world, alice_submission, monkeypatch, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from exercises import tasks
    from exercises.models import CommentStatus, PullRequestComment
    from tests.factories import UserFactory

    published = []
    monkeypatch.setattr(tasks.post_comment, "apply_async", lambda kwargs, **kw: published.append(kwargs["comment_id"]))
    comment = PullRequestComment.objects.create(
        submission=alice_submission, kind="linked", status=CommentStatus.FAILED, next_attempt_at=timezone.now(),
        attempts=6, error="Gave up after 6 attempts: GitHub answered 502",
    )  # fmt: skip
    admin = world.client_for(UserFactory(is_staff=True, is_superuser=True))

    listing = admin.get("/admin/exercises/pullrequestcomment/")
    assert listing.status_code == 200 and "Gave up after 6 attempts" in listing.content.decode()
    assert admin.get(f"/admin/exercises/submission/{alice_submission.pk}/change/").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(
            "/admin/exercises/pullrequestcomment/", {"action": "retry_now", "_selected_action": [comment.pk]}
        )

    assert response.status_code == 302
    comment.refresh_from_db()
    assert comment.status == CommentStatus.PENDING and published == [comment.pk]


def test_lead_github_page_has_constant_queries(world, django_assert_num_queries):
    client = world.client_for(world.lead)
    url = f"/c/{world.cohort.slug}/lead/github/"
    client.get(url)
    for _ in range(5):
        MembershipFactory(cohort=world.cohort)

    with django_assert_num_queries(5):  # session, user, membership, the nav's blocked-learners badge, learners
        response = client.get(url)

    assert response.content.decode().count("Confirm @") == 7  # alice, bob and five more


def test_submission_timeline_labels_times_with_the_viewers_zone(world, alice_submission):
    import datetime as dt

    from exercises.models import TimelineEvent

    at = dt.datetime(2026, 3, 13, 9, 30, tzinfo=dt.UTC)
    Submission.objects.filter(pk=alice_submission.pk).update(opened_at=at, merged_at=at + dt.timedelta(hours=1))
    TimelineEvent.objects.create(
        submission=alice_submission, kind="review", summary="Changes requested", occurred_at=at
    )
    world.alice.timezone = "Asia/Tokyo"
    world.alice.save(update_fields=["timezone"])
    world.lead.timezone = "America/New_York"
    world.lead.save(update_fields=["timezone"])
    page = f"/c/{world.cohort.slug}/submissions/{alice_submission.pk}/"

    for who, expected in [
        (world.alice, ["Asia/Tokyo", "13 Mar 2026, 18:30 JST", "Merged 13 Mar 2026, 19:30 JST", "13 Mar, 18:30 JST"]),
        (world.lead, ["America/New_York", "13 Mar 2026, 05:30 EDT", "13 Mar, 05:30 EDT"]),
    ]:
        client = world.client_for(who)
        for url in (page, page + "state/"):  # the page and the fragment that refreshes it
            html = client.get(url).content.decode()
            for text in expected:
                assert text in html, (who, url, text)
