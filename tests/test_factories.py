"""Every project model has a factory in tests/factories.py, and each factory saves a valid row."""

from __future__ import annotations

import factory
import pytest
from django.apps import apps

from tests import factories

FACTORIES = [
    f
    for f in vars(factories).values()
    if isinstance(f, type) and issubclass(f, factory.django.DjangoModelFactory) and f._meta.model is not None
]


def test_every_project_model_has_a_factory():
    project_models = {
        m for label in ("cohort", "exercises", "inference") for m in apps.get_app_config(label).get_models()
    }
    assert project_models - {f._meta.model for f in FACTORIES} == set()


@pytest.mark.django_db
@pytest.mark.parametrize("model_factory", FACTORIES, ids=lambda f: f.__name__)
def test_factory_saves_a_valid_row(model_factory):
    row = model_factory()
    row.full_clean()
    assert type(row).objects.filter(pk=row.pk).exists()
