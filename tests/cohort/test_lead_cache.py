"""The lead pages' cached fragments (lead home panels, nav badge): what they read, their keys, their staleness."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cohort import lead_views, views
from cohort.check_ins import services as check_ins
from cohort.models import CheckInStatus, Invitation, Membership, OfficeHoursSession, Role, SessionStatus
from cohort.office_hours import live_services
from cohort.office_hours import services as office_hours
from cohort.services import membership_touch, progress_set_completed
from cohort.templatetags import check_ins as check_in_tags
from config.table_versions import table_name
from exercises.models import Exercise
from tests.cohort.busy_cohort import seed_busy_cohort
from tests.factories import MembershipFactory, SubmissionFactory, UserFactory
from tests.helpers import tables_read

pytestmark = pytest.mark.django_db


def _declared(tables) -> set[str]:  # type: ignore[no-untyped-def]
    return {table_name(t) for t in tables}


def _staff(world, user) -> Membership:  # type: ignore[no-untyped-def]
    return Membership.objects.select_related("cohort").get(user=user, cohort=world.cohort)


def _blocked(world, text: str):  # type: ignore[no-untyped-def]
    return check_ins.check_in_post(
        membership=world.bob_membership, step=world.steps[0], status=CheckInStatus.BLOCKED, blocker_text=text
    )


def test_lead_home_panels_read_only_the_tables_they_declare(world):
    seed_busy_cohort(world.cohort, world.steps, 20)
    lead = _staff(world, world.lead)

    with CaptureQueriesContext(connection) as captured:
        html = lead_views.lead_home_panels_html(membership=lead, zone="UTC")

    assert "home-blockers" in html
    assert captured.captured_queries
    assert tables_read(captured) <= _declared(lead_views.LEAD_HOME_TABLES)


def test_lead_nav_badge_reads_only_the_tables_it_declares(world):
    _blocked(world, "x")

    with CaptureQueriesContext(connection) as captured:
        html = check_in_tags.lead_check_in_links(world.cohort)

    assert "1 blocked" in html
    assert captured.captured_queries and tables_read(captured) <= _declared(check_in_tags.LEAD_NAV_TABLES)


def test_lead_home_shows_a_new_blocker_and_its_resolution_at_once(world):
    client = world.client_for(world.lead)
    assert "Nobody is blocked." in client.get("/").content.decode()

    blocker = _blocked(world, "rebase went wrong")
    page = client.get("/").content.decode()
    assert "rebase went wrong" in page and "1 blocked" in page  # the panel and the nav badge

    check_ins.check_in_resolve(check_in=blocker, by=world.lead)  # a bulk update()
    page = client.get("/").content.decode()
    assert "Nobody is blocked." in page and "1 blocked" not in page


def test_lead_home_follows_the_session_and_its_queue(world):
    session = OfficeHoursSession.objects.create(
        cohort=world.cohort, number=1, title="Live one", starts_at=timezone.now() - dt.timedelta(minutes=5)
    )
    session.leads.set([world.lead])
    client = world.client_for(world.lead)
    assert "Next session" in client.get("/").content.decode()

    office_hours.session_set_status(session=session, status=SessionStatus.LIVE)
    page = client.get("/").content.decode()
    assert "Live now" in page and "<div><dt>Waiting in the queue</dt><dd>0</dd></div>" in page

    live_services.help_request_join(
        session=session, membership=world.alice_membership, description="help", capsule=live_services.Capsule()
    )
    assert "<div><dt>Waiting in the queue</dt><dd>1</dd></div>" in client.get("/").content.decode()


def test_lead_home_panels_are_keyed_by_role_and_time_zone(world):
    mentor = MembershipFactory(cohort=world.cohort, role=Role.MENTOR, user=UserFactory(email="m@example.com"))
    mentor.user.timezone = "Asia/Tokyo"
    mentor.user.save(update_fields=["timezone"])
    _blocked(world, "x")
    lead_page = world.client_for(world.lead).get("/").content.decode()
    assert reverse("cohort:lead_roster", args=[world.cohort.slug]) in lead_page

    mentor_page = world.client_for(mentor.user).get("/").content.decode()

    assert reverse("cohort:lead_roster", args=[world.cohort.slug]) not in mentor_page  # leads only
    assert "JST" in mentor_page and "JST" not in lead_page


# --- Lead overview -------------------------------------------------------------------------


def test_overview_reads_only_the_tables_it_declares(world):
    seed_busy_cohort(world.cohort, world.steps, 20)

    for sort in ("name", "progress"):
        with CaptureQueriesContext(connection) as captured:
            summary, table = views.overview_html(cohort=world.cohort, sort=sort, search="crowd", page="1")
        assert "learner" in summary and 'class="matrix"' in table
        assert captured.captured_queries
        assert tables_read(captured) <= _declared(views.OVERVIEW_TABLES)


def test_overview_shows_progress_activity_and_invitations_at_once(world):
    client = world.client_for(world.lead)
    url = reverse("cohort:lead_overview", args=[world.cohort.slug])
    before = client.get(url).content.decode()
    assert "invitation" not in before and "0 done" in before
    assert "never" in before.split("Bob")[1].split("</tr>")[0]

    progress_set_completed(membership=world.alice_membership, step=world.steps[0], completed=True, at=timezone.now())
    membership_touch(membership=world.bob_membership, at=timezone.now())  # QuerySet.update()
    Invitation.objects.create(cohort=world.cohort, email="new@example.com", invited_by=world.lead)

    after = client.get(url).content.decode()
    assert "1 done" in after and "1 invitation pending" in after
    assert "never" not in after.split("Bob")[1].split("</tr>")[0]


def test_overview_search_is_part_of_the_key(world):
    client = world.client_for(world.lead)
    url = reverse("cohort:lead_overview", args=[world.cohort.slug])

    assert "Bob" in client.get(url).content.decode()
    page = client.get(url, {"q": "alice"}).content.decode()
    assert "Alice" in page and ">Bob<" not in page


# --- Per-learner page ----------------------------------------------------------------------


def _learner_url(world, membership) -> str:  # type: ignore[no-untyped-def]
    return reverse("cohort:learner_detail", args=[world.cohort.slug, membership.pk])


def test_learner_page_reads_only_the_tables_it_declares(world):
    seed_busy_cohort(world.cohort, world.steps, 10)
    learner = Membership.objects.select_related("user", "cohort").get(pk=world.alice_membership.pk)

    with CaptureQueriesContext(connection) as captured:
        html = lead_views.learner_body_html(learner=learner, zone="UTC")

    assert "Progress by step" in html
    assert captured.captured_queries
    assert tables_read(captured) <= _declared(lead_views.LEARNER_PAGE_TABLES)


def test_learner_page_shows_a_check_in_and_its_resolution_at_once(world):
    client = world.client_for(world.lead)
    assert "No check-ins yet." in client.get(_learner_url(world, world.bob_membership)).content.decode()

    blocker = _blocked(world, "cannot push")
    page = client.get(_learner_url(world, world.bob_membership)).content.decode()
    assert "cannot push" in page and "1 open blocker" in page

    check_ins.check_in_resolve(check_in=blocker, by=world.lead)  # a bulk update()
    page = client.get(_learner_url(world, world.bob_membership)).content.decode()
    assert "Blocker resolved" in page and "open blocker" not in page


def test_learner_page_is_keyed_by_learner_and_zone_and_refused_across_cohorts(world):
    client = world.client_for(world.lead)
    assert "Alice" in client.get(_learner_url(world, world.alice_membership)).content.decode()
    assert ">Bob</h1>" in client.get(_learner_url(world, world.bob_membership)).content.decode()

    tokyo = MembershipFactory(cohort=world.cohort, role=Role.MENTOR, user=UserFactory(email="t@example.com"))
    tokyo.user.timezone = "Asia/Tokyo"
    tokyo.user.save(update_fields=["timezone"])
    assert (
        "(Asia/Tokyo)" in world.client_for(tokyo.user).get(_learner_url(world, world.alice_membership)).content.decode()
    )

    # The page is cached now; a lead of another cohort still gets the 404 and none of it.
    other_lead = MembershipFactory(
        cohort=Membership.objects.get(user=world.outsider).cohort,
        role=Role.LEAD,
        user=UserFactory(email="o@example.com"),
    ).user
    other_slug = Membership.objects.get(user=world.outsider).cohort.slug
    response = world.client_for(other_lead).get(
        reverse("cohort:learner_detail", args=[other_slug, world.alice_membership.pk])
    )
    assert response.status_code == 404 and b"Alice" not in response.content


# --- Learner dashboard ---------------------------------------------------------------------


def test_dashboard_panels_read_only_the_tables_they_declare(world):
    seed_busy_cohort(world.cohort, world.steps, 10)
    membership = Membership.objects.select_related("cohort", "user").get(pk=world.alice_membership.pk)

    with CaptureQueriesContext(connection) as captured:
        html = views.coming_up_html(membership=membership, user=membership.user)

    assert "exercises-panel" in html
    assert captured.captured_queries
    assert tables_read(captured) <= _declared(views.COMING_UP_TABLES)


def test_dashboard_panels_follow_a_new_session_and_are_per_learner(world):
    alice, bob = world.client_for(world.alice), world.client_for(world.bob)
    assert "Live one" not in alice.get("/").content.decode()

    office_hours.session_create(
        cohort=world.cohort,
        title="Live one",
        starts_at=timezone.now() + dt.timedelta(days=1),
        duration_minutes=60,
        leads=[world.lead],
    )
    assert "Live one" in alice.get("/").content.decode()

    exercise = Exercise.objects.create(cohort=world.cohort, step=world.steps[0], slug="pr", title="Open a PR")
    assert "#5" not in bob.get("/").content.decode()
    SubmissionFactory(membership=world.bob_membership, exercise=exercise, pr_number=5)
    assert "#5" in bob.get("/").content.decode()
    assert "#5" not in alice.get("/").content.decode()  # alice's panels are hers
