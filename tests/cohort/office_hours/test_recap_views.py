"""Office-hours recaps through the views (drafts, publishing, diagrams, hostile markdown, the recap list) and the office-hours parts of other pages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cohort.models import (
    OfficeHoursSession,
    SessionStatus,
)
from tests.factories import SessionFactory, TopicFactory
from tests.helpers import cohort_url
from tests.markup import ATTACKS, problems

pytestmark = pytest.mark.django_db

MERMAID_JS = "vendor/mermaid-11.17.2.min.js"


# --- Recaps -----------------------------------------------------------------------------------

RECAP = """Intro paragraph.

```mermaid
flowchart LR
    A["Draft model"] --> B["Target model"]
```

```python
def add(a, b):
    return a + b
```
"""


def test_lead_saves_draft_then_publishes_recap(world, oh):
    client = world.client_for(world.lead)
    url = cohort_url("recap_edit", "cohort-a", 1)

    client.post(url, {"recap_markdown": RECAP, "action": "save"})
    learner_before = world.client_for(world.alice).get(cohort_url("recap", "cohort-a", 1)).status_code
    lead_preview = client.get(cohort_url("recap", "cohort-a", 1))
    client.post(url, {"recap_markdown": RECAP, "action": "publish"})
    learner_after = world.client_for(world.alice).get(cohort_url("recap", "cohort-a", 1))

    assert learner_before == 404
    assert lead_preview.status_code == 200
    assert "Draft" in lead_preview.content.decode()
    assert learner_after.status_code == 200
    oh.session.refresh_from_db()
    assert oh.session.recap_is_published


def test_lead_unpublishes_recap(world, oh):
    OfficeHoursSession.objects.filter(pk=oh.session.pk).update(recap_markdown=RECAP, recap_published_at=timezone.now())

    world.client_for(world.lead).post(
        cohort_url("recap_edit", "cohort-a", 1), {"recap_markdown": RECAP, "action": "unpublish"}
    )

    assert world.client_for(world.alice).get(cohort_url("recap", "cohort-a", 1)).status_code == 404


def test_recap_page_draws_diagrams_highlights_code_and_lists_topics_with_answers(world, oh):
    OfficeHoursSession.objects.filter(pk=oh.session.pk).update(recap_markdown=RECAP, recap_published_at=timezone.now())
    world.client_for(world.lead).post(
        cohort_url("question_answer", "cohort-a", 1, oh.bob_question.pk), {"topic": oh.topic.pk}
    )

    html = world.client_for(world.alice).get(cohort_url("recap", "cohort-a", 1)).content.decode()

    assert '<pre class="mermaid">flowchart LR' in html
    assert '<span class="k">def</span>' in html
    assert MERMAID_JS in html
    assert "css/codehilite.css" in html
    covered = html.split('id="covered-heading"', 1)[1]
    assert covered.index("GitHub collaboration") < covered.index("Bob asks") < covered.index("Cohort learning")
    assert "Step 1" in covered


def test_mermaid_loads_only_on_pages_showing_a_recap_with_a_diagram(world, oh):
    client = world.client_for(world.alice)
    no_recap = client.get(cohort_url("session", "cohort-a", 1)).content.decode()
    OfficeHoursSession.objects.filter(pk=oh.session.pk).update(recap_markdown=RECAP, recap_published_at=timezone.now())
    SessionFactory(cohort=world.cohort, number=2, recap_markdown="No diagram here.", recap_published_at=timezone.now())

    session_page = client.get(cohort_url("session", "cohort-a", 1)).content.decode()
    plain_recap = client.get(cohort_url("recap", "cohort-a", 2)).content.decode()
    dashboard = client.get(cohort_url("dashboard", "cohort-a")).content.decode()
    recap_list = client.get(cohort_url("recaps", "cohort-a")).content.decode()

    assert MERMAID_JS in session_page
    assert all(MERMAID_JS not in page for page in [no_recap, plain_recap, dashboard, recap_list])


def test_recap_page_renders_hostile_recap_inert(world, oh):
    hostile = "\n\n".join([*ATTACKS.values(), '```mermaid\ngraph TD\n  A["</pre><script>alert(1)</script>"]\n```'])
    OfficeHoursSession.objects.filter(pk=oh.session.pk).update(
        recap_markdown=hostile, recap_published_at=timezone.now()
    )

    html = world.client_for(world.alice).get(cohort_url("recap", "cohort-a", 1)).content.decode()

    article = html.split('<article class="prose recap">', 1)[1].split("</article>", 1)[0]
    assert problems(article) == []
    assert "xss-script" not in html
    assert '<pre class="mermaid">' in article


def test_question_bodies_render_inert(world, oh):
    oh.bob_question.body = ATTACKS["img onerror"] + ATTACKS["html javascript link"]
    oh.bob_question.save(update_fields=["body"])  # renders and stores the HTML, as every write does

    html = world.client_for(world.alice).get(cohort_url("session", "cohort-a", 1)).content.decode()

    item = html.split(f'id="question-{oh.bob_question.pk}"', 1)[1]
    body = item.split('<div class="question-body prose compact">', 1)[1].split("</div>", 1)[0]
    assert "<img" in body
    assert problems(body) == []


def test_recap_list_filters_by_step_and_search(world, oh):
    published = timezone.now()
    OfficeHoursSession.objects.filter(pk=oh.session.pk).update(recap_markdown="Git talk", recap_published_at=published)
    second = SessionFactory(
        cohort=world.cohort, number=2, title="Inference", recap_markdown="Temperature", recap_published_at=published
    )
    TopicFactory(session=second, position=1, title="Sampling", step=world.steps[1])
    TopicFactory(session=second, position=2, title="More git", step=world.steps[0])
    SessionFactory(cohort=world.cohort, number=3, title="Unpublished", recap_markdown="Temperature")
    client = world.client_for(world.alice)

    def numbers(**params: str) -> list[int]:
        return [s.number for s in client.get(cohort_url("recaps", "cohort-a"), params).context["recaps"]]

    assert numbers() == [1, 2]  # latest session first: session 1 is in 2030
    assert sorted(numbers(step="step-1")) == [1, 2]
    assert numbers(step="step-2") == [2]
    assert numbers(step="step-3") == []
    assert numbers(q="temperature") == [2]
    page = client.get(cohort_url("recaps", "cohort-a")).content.decode()
    assert 'value="step-1"' in page and 'value="step-3"' not in page


# --- Other pages' office-hours parts ------------------------------------------------------------


def test_step_page_lists_topics_that_covered_it(world, oh):
    html = world.client_for(world.alice).get(cohort_url("step", "cohort-a", "step-1")).content.decode()
    other_step = world.client_for(world.alice).get(cohort_url("step", "cohort-a", "step-3")).content.decode()

    assert "Covered in office hours" in html
    assert cohort_url("session", "cohort-a", 1) + "#topic-1" in html
    assert "GitHub collaboration" in html
    assert "Covered in office hours" not in other_step


def test_dashboard_panel_shows_next_session_and_latest_recap(world, oh):
    SessionFactory(
        cohort=world.cohort,
        number=2,
        title="Old one",
        starts_at=timezone.now() - dt.timedelta(days=30),
        status=SessionStatus.ENDED,
        recap_markdown="r",
        recap_published_at=timezone.now(),
    )

    html = world.client_for(world.alice).get(cohort_url("dashboard", "cohort-a")).content.decode()

    panel = html.split('id="office-hours-panel"', 1)[1].split("</article>", 1)[0]
    assert "Session 1: Git and Qwen3" in panel
    assert "Latest recap" in panel and "Session 2: Old one" in panel
    assert cohort_url("sessions", "cohort-a") in panel


def test_dashboard_panel_without_sessions_says_so(world):
    html = world.client_for(world.alice).get(cohort_url("dashboard", "cohort-a")).content.decode()

    assert "No session is scheduled yet." in html


def test_lead_nav_links_to_office_hours(world, oh):
    html = world.client_for(world.lead).get(cohort_url("lead_overview", "cohort-a")).content.decode()

    assert cohort_url("sessions", "cohort-a") in html
    assert cohort_url("session_create", "cohort-a") in html
