"""GitHub identity is proven, not typed (issue 10, item 8), and linking by URL uses what GitHub sent (issue 12, item 6)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from cohort.models import Role
from cohort.services import user_connect_github, user_update_profile
from exercises.deliveries import delivery_process
from exercises.models import DeliveryStatus, Submission, WebhookDelivery
from exercises.services import LinkError, submission_link
from tests.exercises import payloads
from tests.factories import CohortFactory, MembershipFactory

pytestmark = pytest.mark.django_db

PR = f"https://github.com/{payloads.REPO}/pull/"


@pytest.fixture
def deliver(post_event):
    def deliver(event: str, payload: dict) -> WebhookDelivery:
        response = post_event(event, payload)
        delivery = WebhookDelivery.objects.get(delivery_id=response.json()["delivery"])
        delivery_process(delivery_id=delivery.pk)
        delivery.refresh_from_db()
        return delivery

    return deliver


@pytest.fixture
def store(post_event):
    """A delivery GitHub sent that is stored (and not processed yet)."""

    def store(event: str, payload: dict) -> None:
        assert post_event(event, payload).status_code == 202

    return store


def test_a_typed_username_earns_nothing_until_confirmed(exercise, world, deliver):
    # learner "bob" types someone else's login; that person's PR must not complete bob's exercise.
    user_update_profile(user=world.bob, name="Bob", github_username="real-learner2", timezone_name="UTC")

    delivery = deliver("pull_request", payloads.pr_event("opened", login="real-learner2", ref="first-pr-x"))

    assert delivery.status == DeliveryStatus.IGNORED
    assert not Submission.objects.exists()


def test_a_lead_confirmed_username_matches_and_pins_the_numeric_id(exercise, world, deliver):
    deliver("pull_request", payloads.pr_event("opened", ref="first-pr-alice"))

    world.alice.refresh_from_db()
    assert world.alice.github_id == payloads.github_id("gh-alice")
    assert Submission.objects.get().membership == world.alice_membership

    # The login renamed away and taken by another account (another numeric id): no match.
    impostor = payloads.pr_event("opened", number=8, ref="first-pr-impostor")
    impostor["pull_request"]["user"]["id"] = 999_999
    assert deliver("pull_request", impostor).status == DeliveryStatus.IGNORED


def test_a_connected_account_matches_on_its_id_even_after_a_rename(exercise, world, deliver):
    user_connect_github(user=world.bob, login="gh-bob", github_id=4242)
    renamed = payloads.pr_event("opened", login="gh-bob-renamed", ref="first-pr-bob")
    renamed["pull_request"]["user"]["id"] = 4242

    deliver("pull_request", renamed)

    assert Submission.objects.get().membership == world.bob_membership


def test_connecting_github_takes_the_login_from_whoever_only_typed_it(world):
    user_update_profile(user=world.bob, name="Bob", github_username="real-alice", timezone_name="UTC")

    user_connect_github(user=world.alice, login="real-alice", github_id=77)

    world.alice.refresh_from_db()
    world.bob.refresh_from_db()
    assert (world.alice.github_username, world.alice.github_id, world.alice.github_confirmed) == (
        "real-alice",
        77,
        True,
    )
    assert world.bob.github_username == ""


def test_changing_the_username_drops_the_confirmation(world):
    world.alice.github_username, world.alice.github_confirmed_at, world.alice.github_id = "gh-alice", timezone.now(), 5
    world.alice.save()

    user_update_profile(user=world.alice, name="Alice", github_username="someone-else", timezone_name="UTC")

    world.alice.refresh_from_db()
    assert (world.alice.github_confirmed, world.alice.github_id) == (False, None)


def test_squatting_a_pr_url_does_not_block_its_author(exercise, world, deliver):
    # bob pastes alice's PR before GitHub has said anything about it.
    squatted = submission_link(membership=world.bob_membership, exercise=exercise, pr_url=PR + "7")
    assert squatted.membership == world.bob_membership

    deliver("pull_request", payloads.pr_event("opened", ref="unrelated-branch"))

    submission = Submission.objects.get()
    assert submission.membership == world.alice_membership and submission.refused_reason == ""
    assert submission.timeline.filter(kind="moved").exists()


def test_the_author_takes_over_a_pr_someone_else_linked(exercise, world, store):
    world.bob.github_username, world.bob.github_confirmed_at = "gh-bob", timezone.now()
    world.bob.save()
    submission_link(membership=world.bob_membership, exercise=exercise, pr_url=PR + "7")
    store("pull_request", payloads.pr_event("opened", ref="unrelated-branch"))  # stored, not processed yet

    submission = submission_link(membership=world.alice_membership, exercise=exercise, pr_url=PR + "7")

    assert Submission.objects.get() == submission and submission.membership == world.alice_membership


# --- Linking by URL uses what GitHub already sent (issue 12, item 6) ---------------------------


def test_link_by_url_uses_the_stored_title_opened_time_and_author(exercise, world, store):
    store("pull_request", payloads.pr_event("opened", ref="unrelated", title="My first PR"))
    store("pull_request", payloads.pr_event("edited", ref="unrelated", title="My first PR, fixed", updated_at="2026-03-10T10:30:00Z"))  # fmt: skip

    submission = submission_link(membership=world.alice_membership, exercise=exercise, pr_url=PR + "7")

    assert submission.title == "My first PR, fixed"
    assert submission.opened_at.isoformat() == "2026-03-10T09:00:00+00:00"
    assert (submission.author_login, submission.refused_reason) == ("gh-alice", "")


def test_link_by_url_refuses_an_author_mismatch_at_once(exercise, world, store):
    store("pull_request", payloads.pr_event("opened", login="a-stranger", ref="unrelated"))

    with pytest.raises(LinkError, match="@a-stranger opened this pull request"):
        submission_link(membership=world.alice_membership, exercise=exercise, pr_url=PR + "7")
    assert not Submission.objects.exists()


@pytest.mark.parametrize("suffix", ["/files", "/commits", "/checks", "/files#diff-1", "/commits/" + "a" * 40, "/"])
def test_pr_urls_of_the_pages_tabs_are_accepted(exercise, world, suffix):
    submission = submission_link(membership=world.alice_membership, exercise=exercise, pr_url=PR + "7" + suffix)

    assert submission.pr_url == PR + "7"


def test_unlink_permissions_and_completed_stays(exercise, world):
    submission = submission_link(membership=world.alice_membership, exercise=exercise, pr_url=PR + "7")
    url = f"/c/{world.cohort.slug}/submissions/{submission.pk}/unlink/"

    assert world.client_for(None).post(url).status_code == 302 and Submission.objects.exists()
    assert world.client_for(world.bob).post(url).status_code == 404
    assert world.client_for(world.outsider).post(url).status_code == 404
    world.client_for(world.lead).post(url)
    assert Submission.objects.exists()  # a lead sees it but cannot unlink a learner's link
    assert world.client_for(world.alice).get(url).status_code == 405

    Submission.objects.filter(pk=submission.pk).update(completed_at=timezone.now())
    world.client_for(world.alice).post(url)
    assert Submission.objects.exists()

    Submission.objects.filter(pk=submission.pk).update(completed_at=None)
    response = world.client_for(world.alice).post(url)
    assert response.status_code == 302 and not Submission.objects.exists()


# --- The lead's confirmation, where GitHub sign-in is not configured ------------------------------


def test_lead_confirms_a_username_then_prs_count(exercise, world, deliver):
    world.bob.github_username = "gh-bob"
    world.bob.save()
    assert deliver("pull_request", payloads.pr_event("opened", login="gh-bob", ref="first-pr-bob")).status == "ignored"

    page = world.client_for(world.lead).get(f"/c/{world.cohort.slug}/lead/github/")
    assert page.status_code == 200 and "Confirm @gh-bob" in page.content.decode()
    response = world.client_for(world.lead).post(
        f"/c/{world.cohort.slug}/lead/github/{world.bob_membership.pk}/confirm/", {"confirm": "1"}
    )
    assert response.status_code == 302

    deliver("pull_request", payloads.pr_event("opened", login="gh-bob", ref="first-pr-bob", number=9))
    assert Submission.objects.get().membership == world.bob_membership


def test_lead_github_pages_permissions(world):
    other = CohortFactory(slug="cohort-other")
    other_lead = MembershipFactory(cohort=other, role=Role.LEAD).user
    mentor = MembershipFactory(cohort=world.cohort, role=Role.MENTOR).user
    page = f"/c/{world.cohort.slug}/lead/github/"
    confirm = f"/c/{world.cohort.slug}/lead/github/{world.bob_membership.pk}/confirm/"
    world.bob.github_username = "gh-bob"
    world.bob.save()

    assert world.client_for(world.lead).get(page).status_code == 200
    for user, status in [(world.alice, 403), (mentor, 403), (other_lead, 404), (world.outsider, 404)]:
        assert world.client_for(user).get(page).status_code == status
        assert world.client_for(user).post(confirm, {"confirm": "1"}).status_code == status
    assert world.client_for(None).get(page).status_code == 302
    # Another cohort's lead, on their own cohort's URL with this cohort's membership id: 404.
    own = f"/c/{other.slug}/lead/github/{world.bob_membership.pk}/confirm/"
    assert world.client_for(other_lead).post(own, {"confirm": "1"}).status_code == 404
    world.bob.refresh_from_db()
    assert not world.bob.github_confirmed


# --- The profile ---------------------------------------------------------------------------------


def test_profile_accepts_a_github_profile_url(world):
    response = world.client_for(world.alice).post(
        "/profile/", {"name": "Alice", "github_username": "https://github.com/Alice-Dev/", "timezone": "UTC"}
    )

    assert response.status_code == 302
    world.alice.refresh_from_db()
    assert world.alice.github_username == "Alice-Dev"


def test_profile_shows_connect_github_instead_of_a_text_field_when_sign_in_is_configured(world, settings):
    settings.GITHUB_LOGIN_ENABLED = True
    settings.SOCIALACCOUNT_PROVIDERS = {
        "github": {"SCOPE": ["read:user", "user:email"], "APPS": [{"client_id": "x", "secret": "y", "key": ""}]}
    }

    page = world.client_for(world.alice).get("/profile/").content.decode()
    world.client_for(world.alice).post("/profile/", {"name": "A", "github_username": "typed", "timezone": "UTC"})

    assert "Connect GitHub" in page and 'name="github_username"' not in page
    before = world.alice.github_username
    world.alice.refresh_from_db()
    assert world.alice.github_username == before != "typed"


def test_signing_in_with_github_proves_the_login_and_numeric_id(rf, world):
    from allauth.socialaccount.models import SocialAccount, SocialLogin

    from cohort.adapters import SocialAccountAdapter

    user_update_profile(user=world.bob, name="Bob", github_username="octocat", timezone_name="UTC")
    account = SocialAccount(provider="github", uid="583231", extra_data={"login": "octocat"}, user=world.alice)
    sociallogin = SocialLogin(account=account, user=world.alice)
    sociallogin.state = {}

    SocialAccountAdapter().pre_social_login(rf.get("/"), sociallogin)

    world.alice.refresh_from_db()
    world.bob.refresh_from_db()
    assert (world.alice.github_username, world.alice.github_id, world.alice.github_confirmed) == (
        "octocat",
        583231,
        True,
    )
    assert world.bob.github_username == ""  # only typed it
