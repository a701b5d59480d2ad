"""The learner dashboard's cached fragments (roadmap and progress, check-in card): what they read, keys, staleness.

The "Coming up" panels are tested in test_lead_cache.py, the open-experiment cards in
tests/inference/test_experiment_cards_cache.py.
"""

from __future__ import annotations

import functools
import re

import pytest
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cohort import selectors, views
from cohort.check_ins import services as check_ins
from cohort.models import CheckInStatus, Membership, RoadmapStep
from cohort.services import progress_set_completed
from cohort.templatetags import check_ins as check_in_tags
from config.table_versions import csrf_placeholder, table_name
from tests.cohort.busy_cohort import seed_busy_cohort
from tests.factories import CohortFactory, MembershipFactory, StepFactory
from tests.helpers import tables_read

pytestmark = pytest.mark.django_db


def _declared(tables) -> set[str]:  # type: ignore[no-untyped-def]
    return {table_name(t) for t in tables}


def _fresh(membership: Membership) -> Membership:
    return Membership.objects.select_related("cohort", "user").get(pk=membership.pk)


def _roadmap(membership: Membership):  # type: ignore[no-untyped-def]
    return functools.cache(lambda: selectors.roadmap_for(membership=membership))


def _dashboard(client: Client, slug: str = "cohort-a") -> str:
    return client.get(reverse("cohort:dashboard", args=[slug])).content.decode()


def _card(page: str) -> str:
    return page.split('id="check-in"')[1].split("</section>")[0]


def _post_check_in(client: Client, **data: str):  # type: ignore[no-untyped-def]
    payload = {"step": "step-1", "status": CheckInStatus.ON_TRACK, "done_text": "", "next_text": "", "blocker_text": ""}
    payload.update(data)
    return client.post(reverse("cohort:check_in_create", args=["cohort-a"]), payload)


# --- What each fragment reads ---------------------------------------------------------------


def test_roadmap_panels_read_only_the_tables_they_declare(world):
    seed_busy_cohort(world.cohort, world.steps, 10)
    progress_set_completed(membership=world.alice_membership, step=world.steps[0], completed=True)
    alice = _fresh(world.alice_membership)

    with CaptureQueriesContext(connection) as captured:
        progress, steps = views.roadmap_html(membership=alice, roadmap=_roadmap(alice))

    assert "1 / 3" in progress and "roadmap-heading" in steps
    assert captured.captured_queries
    assert tables_read(captured) <= _declared(views.ROADMAP_TABLES)


def test_check_in_card_reads_only_the_tables_it_declares(world):
    seed_busy_cohort(world.cohort, world.steps, 10)
    blocker = check_ins.check_in_post(
        membership=world.alice_membership, step=world.steps[0], status=CheckInStatus.BLOCKED, blocker_text="stuck"
    )
    check_ins.check_in_resolve(check_in=blocker, by=world.lead)  # "resolved by <lead>" reads the user
    alice = _fresh(world.alice_membership)
    request = RequestFactory().get("/")

    with CaptureQueriesContext(connection) as captured:
        html = check_in_tags.check_in_card_html(request, membership=alice, roadmap=_roadmap(alice))

    assert "Blocker resolved" in html and "stuck" in html
    assert "/static/" not in html  # a cached static URL could outlive a deploy; the page's head links it
    assert captured.captured_queries
    assert tables_read(captured) <= _declared(check_in_tags.CARD_TABLES)


# --- Staleness, through the real services and endpoints --------------------------------------


def test_a_posted_check_in_and_its_resolution_show_at_once(world):
    alice = world.client_for(world.alice)
    assert "Your latest check-ins" not in _dashboard(alice)

    assert _post_check_in(alice, status=CheckInStatus.BLOCKED, blocker_text="wheel fails").status_code == 302
    card = _card(_dashboard(alice))
    assert "wheel fails" in card and ">Blocked<" in card

    blocker = Membership.objects.get(pk=world.alice_membership.pk).check_ins.get()
    check_ins.check_in_resolve(check_in=blocker, by=world.lead)  # a bulk update()
    assert "Blocker resolved" in _card(_dashboard(alice))


def test_a_step_marked_current_or_done_shows_at_once(world):
    alice = world.client_for(world.alice)
    page = _dashboard(alice)
    assert "0 / 3" in page and '<option value="step-1" selected>' in page

    focus = reverse("cohort:step_focus", args=["cohort-a", "step-2"])
    assert alice.post(focus).status_code == 302
    page = _dashboard(alice)
    current = page.split('id="current-heading"')[1].split("</article>")[0]
    assert "Step 2" in current
    assert '<option value="step-2" selected>' in _card(page)  # the card's step follows too
    assert "Step 2</span>" in page.split('id="roadmap-heading"')[1].split("· current")[0].rsplit("<a", 1)[1]

    progress_set_completed(membership=world.alice_membership, step=world.steps[1], completed=True)
    page = _dashboard(alice)
    assert "1 / 3" in page
    assert '<option value="step-1" selected>' in _card(page)  # done: back to the first step not done


def test_a_new_step_shows_at_once(world):
    alice = world.client_for(world.alice)
    assert "Step 4" not in _dashboard(alice)

    StepFactory(cohort=world.cohort, position=4, code="Step 4", slug="step-4")
    page = _dashboard(alice)
    assert "0 / 4" in page and '<option value="step-4">' in _card(page)


# --- Keys: the viewer, the cohort, its time zone ---------------------------------------------


def test_the_warm_card_carries_the_viewers_own_working_csrf_token(world):
    alice = Client(enforce_csrf_checks=True)
    alice.force_login(world.alice)
    _dashboard(alice)  # cold: renders and caches the card
    page = _dashboard(alice)  # warm: the cached card

    tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', _card(page))
    assert tokens and csrf_placeholder() not in page
    assert "check_ins.css" in page.split("</head>")[0]

    response = alice.post(
        reverse("cohort:check_in_create", args=["cohort-a"]),
        {"step": "step-1", "status": CheckInStatus.ON_TRACK, "done_text": "set up", "csrfmiddlewaretoken": tokens[0]},
    )
    assert response.status_code == 302


def test_each_learner_sees_only_their_own_roadmap_and_check_ins(world):
    check_ins.check_in_post(
        membership=world.alice_membership, step=world.steps[0], status=CheckInStatus.ON_TRACK, done_text="alice's"
    )
    progress_set_completed(membership=world.alice_membership, step=world.steps[0], completed=True)
    alice_page = _dashboard(world.client_for(world.alice))
    assert "alice&#x27;s" in alice_page and "1 / 3" in alice_page

    bob_page = _dashboard(world.client_for(world.bob))
    assert "alice&#x27;s" not in bob_page and "Your latest check-ins" not in bob_page
    assert "0 / 3" in bob_page


def test_the_card_follows_the_cohorts_time_zone(world):
    check_ins.check_in_post(
        membership=world.alice_membership, step=world.steps[0], status=CheckInStatus.ON_TRACK, done_text="x"
    )
    alice = world.client_for(world.alice)
    assert "JST" not in _card(_dashboard(alice))

    world.cohort.timezone = "Asia/Tokyo"
    world.cohort.save(update_fields=["timezone"])
    assert "JST" in _card(_dashboard(alice))


def test_a_learner_in_two_cohorts_sees_each_cohorts_own_roadmap(world):
    other = CohortFactory(slug="cohort-c", name="Cohort C", starts_on=world.cohort.starts_on.replace(year=2025))
    StepFactory(cohort=other, position=1, code="Other 1", slug="other-1", title="Elsewhere")
    MembershipFactory(user=world.alice, cohort=other)
    alice = world.client_for(world.alice)

    page_a, page_c = _dashboard(alice), _dashboard(alice, "cohort-c")
    assert "Elsewhere" not in page_a and "Step 1" in page_a
    assert "Elsewhere" in page_c and "Step 1" not in page_c
    assert 'name="next" value="/c/cohort-c/"' in _card(page_c)
    home = alice.get("/").content.decode()  # `/` lands on the latest cohort, with the switcher
    assert 'aria-label="Your cohorts"' in home and "Step 1" in home
    assert 'name="next" value="/"' in _card(home)
    assert 'name="next" value="/c/cohort-a/"' in _card(_dashboard(alice))  # same learner: the key holds the path


def test_a_lead_on_their_learner_view_gets_their_own_roadmap_and_no_card(world):
    progress_set_completed(membership=world.alice_membership, step=world.steps[0], completed=True)
    assert "1 / 3" in _dashboard(world.client_for(world.alice))

    page = _dashboard(world.client_for(world.lead))
    assert "Back to the lead home" in page and "0 / 3" in page
    assert 'id="check-in"' not in page


def test_the_github_notice_is_not_cached_with_the_panels(world):
    world.alice.github_username = ""
    world.alice.save(update_fields=["github_username"])
    alice = world.client_for(world.alice)
    assert "Add your <a" in _dashboard(alice)

    world.alice.github_username = "alice-gh"
    world.alice.save(update_fields=["github_username"])
    page = _dashboard(alice)
    assert "Add your <a" not in page and "@alice-gh" in page


def test_a_roadmap_with_no_steps_says_so(world):
    RoadmapStep.objects.filter(cohort=world.cohort).delete()
    page = _dashboard(world.client_for(world.alice))
    assert "not published yet" in page and 'id="check-in"' not in page  # no steps to check in on
