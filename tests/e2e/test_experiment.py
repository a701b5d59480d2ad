"""The live cohort experiment in a browser: a lead starts it in a live session, three learners run it
(a real worker, the real SmolLM2), the projected page fills in by itself, and the chart goes to the recap."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from cohort.models import OfficeHoursSession, SessionStatus
from inference.models import ExperimentRun
from tests.e2e.axe import assert_no_axe_violations, assert_no_csp_violations, watch_csp
from tests.factories import MembershipFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RUN_TIMEOUT = 120_000  # ms: the first run loads the model in the worker


def _overflow(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def test_a_room_runs_the_leads_experiment(new_page, world, smollm2, sign_in, celery_worker_process, settings):
    settings.DEBUG = False
    OfficeHoursSession.objects.create(
        cohort=world.cohort, number=4, title="Sampling", starts_at=timezone.now() - dt.timedelta(minutes=10),
        status=SessionStatus.LIVE, recap_markdown="## What we did\n\nWe sampled together.",
    )  # fmt: skip
    carol = MembershipFactory(cohort=world.cohort, user=UserFactory(email="carol@example.com", name="Carol")).user

    lead = new_page()
    watch_csp(lead.context)
    sign_in(lead, world.lead)
    lead.goto("/c/cohort-a/sessions/4/")
    lead.get_by_role("link", name="Start an experiment").click()
    expect(lead.get_by_role("heading", level=1)).to_have_text("Start a live experiment")
    lead.get_by_label("Title").fill("Name a colour")
    lead.get_by_label("Prompt").fill("Name one colour.")
    lead.get_by_label("Max tokens").fill("4")
    lead.get_by_label("Temperatures").fill("0, 1")
    lead.get_by_role("button", name="Start the experiment").click()
    expect(lead.get_by_role("heading", level=1)).to_have_text("Name a colour")
    expect(lead.locator("#experiment-results [data-arm]")).to_have_count(2)

    # Three learners, one click each, from the live session page.
    for user in (world.alice, world.bob, carol):
        learner = new_page()
        watch_csp(learner.context)
        sign_in(learner, user)
        learner.goto("/c/cohort-a/sessions/4/")
        learner.get_by_role("button", name="Run the lead's experiment").click()
        expect(learner.locator(".messages")).to_contain_text("started at temperature")
        expect(learner.get_by_text("You have run it")).to_be_visible()
        assert_no_csp_violations(learner, "learner's results page")
        learner.context.close()
    assert ExperimentRun.objects.count() == 3

    # The projected page updates by itself (no reload): arms were assigned 0, 1, 0.
    expect(lead.locator('[data-arm="0"] .arm-counts')).to_have_text(
        re.compile(r"^2 runs done · 0 pending"), timeout=RUN_TIMEOUT
    )
    expect(lead.locator('[data-arm="1"] .arm-counts')).to_have_text(
        re.compile(r"^1 run done · 0 pending"), timeout=RUN_TIMEOUT
    )
    expect(lead.locator('[data-arm="0"] .outputs li')).to_have_count(1)  # greedy: one output, twice
    expect(lead.locator('[data-arm="0"] .outputs .badge')).to_have_text("2×")
    expect(lead.locator('[data-arm="1"] .fit')).to_contain_text("1 sample")
    expect(lead.locator("#experiment-total")).to_have_text("3")

    lead.get_by_role("button", name="Draw 1,000 more from the same distribution").click()
    expect(lead.locator("#simulate-output")).to_contain_text("Simulated, not the model: 1,000 draws")
    assert_no_axe_violations(lead, "experiment results with three runs")
    lead.set_viewport_size({"width": 320, "height": 800})
    assert _overflow(lead) <= 0
    lead.set_viewport_size({"width": 1280, "height": 900})
    assert_no_csp_violations(lead, "projected results")

    lead.get_by_role("button", name="Attach the chart to the recap").click()
    expect(lead).to_have_url(re.compile(r"/c/cohort-a/sessions/4/recap/$"))
    chart = lead.locator("figure.experiment-chart svg")
    expect(chart).to_be_visible()
    expect(lead.get_by_role("heading", name="Live experiment: Name a colour")).to_be_visible()
    expect(lead.locator("figure.experiment-chart svg text").filter(has_text="Temperature 0: 2 runs")).to_have_count(1)
    lead.set_viewport_size({"width": 320, "height": 800})
    assert _overflow(lead) <= 0


def test_the_leads_table_of_runs_follows_the_room(page_for, world, smollm2, monkeypatch):
    """With the page open, a learner's run appears, then ends, then the learner is renamed: no reload, the
    focus on a run's link survives the updates, and the rows the script built are the server's markup."""
    import random

    from inference import services

    # The test ends the run itself (as a worker would, at a moment it chooses): a real worker left
    # running by an earlier test must not take it first.
    monkeypatch.setattr(services, "publish_after_commit", lambda *args, **kwargs: None)

    from cohort.models import User
    from inference import experiments
    from tests.inference.test_experiments import _create, _finish_like_a_worker

    experiment = _create(world, smollm2, temperatures=[0.7], title="Live table")
    lead = page_for(world.lead)
    watch_csp(lead.context)
    lead.goto(f"/sandbox/experiments/{experiment.pk}/")
    expect(lead.get_by_text("No one has run it yet")).to_be_visible()
    table = lead.locator("#experiment-runs-table")
    expect(table).to_be_hidden()

    run, _entry = experiments.experiment_run(experiment=experiment, membership=world.alice_membership)
    row = lead.locator(f'#experiment-run-rows tr[data-run="{run.pk}"]')
    expect(row.locator("td")).to_have_text([f"#{run.pk}", "Alice", "0.7", "queued", "∅", ""])
    expect(lead.get_by_text("No one has run it yet")).to_be_hidden()
    link = row.get_by_role("link", name=f"#{run.pk}")
    expect(link).to_have_attribute("href", f"/sandbox/runs/{run.pk}/")
    link.focus()

    _finish_like_a_worker(run, random.Random(3))
    entry = ExperimentRun.objects.get(run=run)
    expect(row.locator("td")).to_have_text([f"#{run.pk}", "Alice", "0.7", "done", entry.first_token_text,
                                            entry.output_text])  # fmt: skip
    expect(link).to_be_focused()  # updated in place, not rebuilt

    second, _entry = experiments.experiment_run(experiment=experiment, membership=world.bob_membership)
    expect(lead.locator("#experiment-run-rows tr")).to_have_count(2)
    expect(lead.locator("#experiment-run-rows tr").nth(1)).to_have_attribute("data-run", str(second.pk))
    User.objects.filter(pk=world.alice.pk).update(name="Alicia")
    expect(row.locator("td").nth(1)).to_have_text("Alicia")
    expect(link).to_be_focused()
    assert_no_csp_violations(lead, "the lead's live table")

    built = lead.locator("#experiment-run-rows").inner_html()
    lead.reload()
    expect(lead.locator("#experiment-run-rows tr")).to_have_count(2)
    assert lead.locator("#experiment-run-rows").inner_html() == built  # the no-JS first paint is the same
