"""URL names and routes, template paths, tag libraries and Celery task names are never lost or changed.

The fixture is the dump taken before office hours and check-ins moved into packages.
New names may be added (other features keep growing); every name in the fixture
must still exist, with the same route or task. Regenerate the fixture after a
deliberate rename (or a one-use fragment folded into a {% partialdef %}, as five office-hours fragments were): `DEBUG=true .venv/bin/python -m tests.public_names > tests/fixtures/public_names.json`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.public_names import public_names

FIXTURE = Path(__file__).parent / "fixtures" / "public_names.json"


# Celery's Django fixup checks the models when it imports the task modules: that needs the database.
@pytest.mark.django_db
def test_public_names_are_kept():
    before, now = json.loads(FIXTURE.read_text()), public_names()

    assert {name: now["url_names"].get(name) for name in before["url_names"]} == before["url_names"]
    assert set(before["template_paths"]) - set(now["template_paths"]) == set()
    assert set(before["template_tag_libraries"]) - set(now["template_tag_libraries"]) == set()
    assert set(before["celery"]["registered"]) - set(now["celery"]["registered"]) == set()
    beat = now["celery"]["beat_schedule"]
    assert {entry: beat.get(entry) for entry in before["celery"]["beat_schedule"]} == before["celery"]["beat_schedule"]
