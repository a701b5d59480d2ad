"""Who is stuck's cached table and filter form: what they read, what they are keyed by, when they change."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.http import QueryDict
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cohort.check_ins import services as check_ins
from cohort.check_ins import stuck_views
from cohort.check_ins.stuck import StuckFilters
from cohort.models import CheckIn, CheckInStatus, Membership, Role
from cohort.services import membership_touch
from config.table_versions import table_name
from tests.cohort.busy_cohort import seed_busy_cohort
from tests.factories import MembershipFactory, UserFactory
from tests.helpers import tables_read


def _url(world, **query) -> str:  # type: ignore[no-untyped-def]
    url = reverse("cohort:lead_stuck", args=[world.cohort.slug])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def _lead_membership(world) -> Membership:  # type: ignore[no-untyped-def]
    return Membership.objects.select_related("cohort").get(user=world.lead, cohort=world.cohort)


def _blocked(world, text: str) -> CheckIn:  # type: ignore[no-untyped-def]
    return check_ins.check_in_post(
        membership=world.alice_membership, step=world.steps[0], status=CheckInStatus.BLOCKED, blocker_text=text
    )


@pytest.mark.parametrize("query", ["", "sort=missed&inactive=1", "sort=name&blocked=1&step=step-1&page=2"])
def test_table_reads_only_the_tables_it_declares(world, query):
    seed_busy_cohort(world.cohort, world.steps, 60)
    declared = {table_name(t) for t in stuck_views.STUCK_TABLE_TABLES}
    lead = _lead_membership(world)

    with CaptureQueriesContext(connection) as captured:
        html = stuck_views.stuck_table_html(membership=lead, query=QueryDict(query))

    assert "stuck-summary" in html
    assert captured.captured_queries, "the render ran (cold)"
    assert tables_read(captured) <= declared


def test_filter_form_reads_only_the_steps(world):
    with CaptureQueriesContext(connection) as captured:
        html = stuck_views.stuck_filters_html(cohort=world.cohort, filters=StuckFilters(step_slug="step-2"))

    assert '<option value="step-2" selected>' in html
    assert captured.captured_queries
    assert tables_read(captured) <= {"cohort_roadmapstep"}


def test_a_new_blocker_and_its_resolution_show_at_once(world):
    lead = world.client_for(world.lead)
    assert "GGUF mismatch" not in lead.get(_url(world)).content.decode()

    blocker = _blocked(world, "GGUF mismatch")
    assert "GGUF mismatch" in lead.get(_url(world)).content.decode()

    check_ins.check_in_resolve(check_in=blocker, by=world.lead)  # a bulk update()
    assert "GGUF mismatch" not in lead.get(_url(world)).content.decode()


def test_activity_through_the_bulk_update_shows_at_once(world):
    lead = world.client_for(world.lead)
    world.alice_membership.last_activity_at = None
    world.alice_membership.save(update_fields=["last_activity_at"])
    before = lead.get(_url(world, sort="name")).content.decode()
    assert before.count("never active") == 2  # alice and bob

    membership_touch(membership=world.alice_membership, at=timezone.now())  # QuerySet.update()

    after = lead.get(_url(world, sort="name")).content.decode()
    assert after.count("never active") == 1


def test_a_mentor_never_gets_the_leads_resolve_buttons(world):
    _blocked(world, "need help")
    mentor = MembershipFactory(cohort=world.cohort, role=Role.MENTOR, user=UserFactory(email="m@example.com"))
    assert "Mark resolved" in world.client_for(world.lead).get(_url(world)).content.decode()

    body = world.client_for(mentor.user).get(_url(world)).content.decode()

    assert "need help" in body and "Mark resolved" not in body
    assert 'id="blocker-resolve"' not in body


def test_resolve_button_posts_with_this_viewers_token_after_another_warmed_the_cache(world):
    blocker = _blocked(world, "need help")
    other_lead = MembershipFactory(cohort=world.cohort, role=Role.LEAD, user=UserFactory(email="l2@example.com")).user
    world.client_for(other_lead).get(_url(world, blocked=1))  # renders and caches the table
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.lead)

    body = client.get(_url(world, blocked=1)).content.decode()

    form = re.search(r'<form id="blocker-resolve" method="post" hidden>(.*?)</form>', body, re.S)
    assert form is not None
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.group(1)).group(1)
    next_url = re.search(r'name="next" value="([^"]+)"', form.group(1)).group(1).replace("&amp;", "&")
    action = re.search(r'form="blocker-resolve" formaction="([^"]+)"', body).group(1)
    response = client.post(action, {"csrfmiddlewaretoken": token, "next": next_url})
    assert response.status_code == 302 and response.url == _url(world, blocked=1)
    blocker.refresh_from_db()
    assert blocker.resolved_by == world.lead


def test_the_pager_keeps_the_filters_without_the_request(world):
    seed_busy_cohort(world.cohort, world.steps, 60)

    body = world.client_for(world.lead).get(_url(world, sort="name", days=5)).content.decode()

    assert 'href="?sort=name&amp;days=5&amp;page=2"' in body
