"""Quantization variants used to be registry models, listed to every user of every cohort.

They are now ModelVariant rows owned by their lab. Rows the old lab registered
(`<slug>-f16`, `<slug>-q8-0`, ... of another registered slug) leave the
registry: deleted with their file when nothing refers to them, otherwise
marked unavailable so past runs keep their record.
"""

from pathlib import Path

from django.conf import settings
from django.db import migrations

SUFFIXES = ("-f16", "-q8-0", "-q4-k-m", "-q4-0")


def retire(apps, schema_editor):
    SandboxModel = apps.get_model("inference", "SandboxModel")
    slugs = set(SandboxModel.objects.values_list("slug", flat=True))

    models_dir = Path(settings.SANDBOX_MODELS_DIR).resolve()

    def is_variant(model):
        # Both marks of the old lab: a type suffix on another model's slug, and its file name in the models folder.
        path = Path(model.path).resolve()
        return path == models_dir / f"{model.slug}.gguf" and any(
            model.slug.endswith(s) and model.slug.removesuffix(s) in slugs for s in SUFFIXES
        )

    for model in SandboxModel.objects.all():
        if not is_variant(model):
            continue
        if model.runs.exists() or model.lab_jobs.exists():
            model.available = False
            model.save(update_fields=["available"])
            continue
        model.delete()
        Path(model.path).unlink(missing_ok=True)


class Migration(migrations.Migration):
    dependencies = [
        ("inference", "0007_modelvariant"),
    ]

    operations = [migrations.RunPython(retire, migrations.RunPython.noop)]
