"""URL names and routes, template paths, tag libraries and Celery task names stay as committed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.public_names import public_names

FIXTURE = Path(__file__).parent / "fixtures" / "public_names.json"


# Celery's Django fixup checks the models when it imports the task modules: that needs the database.
@pytest.mark.django_db
def test_public_names_unchanged():
    assert public_names() == json.loads(FIXTURE.read_text())
