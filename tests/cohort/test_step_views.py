"""A cohort's dashboard, step page and step focus: the learner who owns the progress, another learner, an outsider, a lead."""

from __future__ import annotations

import pytest

from cohort.models import StepProgress
from tests.factories import StepFactory
from tests.helpers import cohort_url

pytestmark = pytest.mark.django_db


# --- Cohort dashboard ----------------------------------------------------------------


def test_dashboard_learner_sees_own_progress(world):
    response = world.client_for(world.alice).get(cohort_url("dashboard", "cohort-a"))

    assert response.status_code == 200
    assert response.context["membership"] == world.alice_membership
    assert [s.step for s in response.context["roadmap"].steps] == world.steps


def test_dashboard_other_learner_sees_their_own_progress_not_alices(world):
    StepProgress.objects.create(
        membership=world.alice_membership, step=world.steps[0], completed_at="2026-03-05T10:00Z"
    )

    response = world.client_for(world.bob).get(cohort_url("dashboard", "cohort-a"))

    assert response.status_code == 200
    assert response.context["membership"] == world.bob_membership
    assert response.context["roadmap"].done_count == 0


def test_dashboard_outsider_gets_404(world):
    response = world.client_for(world.outsider).get(cohort_url("dashboard", "cohort-a"))

    assert response.status_code == 404


def test_dashboard_unknown_cohort_gets_404(world):
    response = world.client_for(world.alice).get(cohort_url("dashboard", "no-such-cohort"))

    assert response.status_code == 404


def test_dashboard_lead_gets_200(world):
    response = world.client_for(world.lead).get(cohort_url("dashboard", "cohort-a"))

    assert response.status_code == 200


# --- Step page -----------------------------------------------------------------------


def test_step_learner_gets_200(world):
    response = world.client_for(world.alice).get(cohort_url("step", "cohort-a", "step-2"))

    assert response.status_code == 200
    assert response.context["step"] == world.steps[1]


def test_step_other_learner_sees_own_status(world):
    StepProgress.objects.create(membership=world.alice_membership, step=world.steps[1], started_at="2026-03-05T10:00Z")

    response = world.client_for(world.bob).get(cohort_url("step", "cohort-a", "step-2"))

    assert response.status_code == 200
    assert response.context["progress"].status == "not_started"


def test_step_outsider_gets_404(world):
    response = world.client_for(world.outsider).get(cohort_url("step", "cohort-a", "step-1"))

    assert response.status_code == 404


def test_step_of_another_cohort_gets_404(world):
    StepFactory(cohort=world.outsider.memberships.get().cohort, slug="elsewhere")

    response = world.client_for(world.alice).get(cohort_url("step", "cohort-a", "elsewhere"))

    assert response.status_code == 404


def test_step_lead_gets_200(world):
    response = world.client_for(world.lead).get(cohort_url("step", "cohort-a", "step-1"))

    assert response.status_code == 200


# --- Step focus ----------------------------------------------------------------------


def test_step_focus_learner_post_makes_step_current(world):
    response = world.client_for(world.alice).post(cohort_url("step_focus", "cohort-a", "step-2"))

    assert response.status_code == 302
    assert response.url == cohort_url("step", "cohort-a", "step-2")
    progress = StepProgress.objects.get(membership=world.alice_membership)
    assert progress.step == world.steps[1]
    assert progress.focused_at is not None
    assert progress.started_at is not None


def test_step_focus_htmx_returns_fragment(world):
    response = world.client_for(world.alice).post(
        cohort_url("step_focus", "cohort-a", "step-2"), headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body
    assert 'class="focus-box"' in body
    assert "current step" in body
    assert [t.name for t in response.templates] == ["cohort/_step_focus.html"]


def test_step_focus_get_not_allowed(world):
    response = world.client_for(world.alice).get(cohort_url("step_focus", "cohort-a", "step-2"))

    assert response.status_code == 405
    assert not StepProgress.objects.exists()


def test_step_focus_other_learner_changes_only_own_progress(world):
    world.client_for(world.bob).post(cohort_url("step_focus", "cohort-a", "step-3"))

    assert not StepProgress.objects.filter(membership=world.alice_membership).exists()
    assert StepProgress.objects.filter(membership=world.bob_membership, step=world.steps[2]).exists()


def test_step_focus_outsider_gets_404(world):
    response = world.client_for(world.outsider).post(cohort_url("step_focus", "cohort-a", "step-1"))

    assert response.status_code == 404
    assert not StepProgress.objects.exists()


def test_step_focus_step_of_another_cohort_gets_404(world):
    other_cohort = world.outsider.memberships.get().cohort
    StepFactory(cohort=other_cohort, slug="elsewhere")
    client = world.client_for(world.alice)

    through_own_cohort = client.post(cohort_url("step_focus", "cohort-a", "elsewhere"))
    through_other_cohort = client.post(cohort_url("step_focus", other_cohort.slug, "elsewhere"))

    assert through_own_cohort.status_code == 404
    assert through_other_cohort.status_code == 404
    assert not StepProgress.objects.exists()


def test_step_focus_lead_post_is_allowed(world):
    response = world.client_for(world.lead).post(cohort_url("step_focus", "cohort-a", "step-1"))

    assert response.status_code == 302
