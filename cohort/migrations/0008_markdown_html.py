"""Store each Markdown field's HTML next to it (rendered once on save) and render the rows that exist."""

from django.db import migrations, models

from cohort.markdown import normalize_newlines, render_markdown

# model -> (source field, HTML field, draw diagrams), as in each model's MARKDOWN_FIELDS.
FIELDS = {
    "roadmapstep": ("body", "body_html", False),
    "officehourssession": ("recap_markdown", "recap_html", True),
    "sessiontopic": ("notes", "notes_html", False),
    "sessionquestion": ("body", "body_html", False),
}


def render_existing(apps, schema_editor):
    for model_name, (source, target, diagrams) in FIELDS.items():
        model = apps.get_model("cohort", model_name)
        for pk, text in model.objects.exclude(**{source: ""}).values_list("pk", source).iterator():
            text = normalize_newlines(text)
            model.objects.filter(pk=pk).update(
                **{source: text, target: str(render_markdown(text, diagrams=diagrams))}
            )


class Migration(migrations.Migration):
    dependencies = [("cohort", "0007_alter_stepprogress_options")]

    operations = [
        migrations.AddField(
            model_name="roadmapstep", name="body_html", field=models.TextField(blank=True, editable=False)
        ),
        migrations.AddField(
            model_name="officehourssession", name="recap_html", field=models.TextField(blank=True, editable=False)
        ),
        migrations.AddField(
            model_name="sessiontopic", name="notes_html", field=models.TextField(blank=True, editable=False)
        ),
        migrations.AddField(
            model_name="sessionquestion", name="body_html", field=models.TextField(blank=True, editable=False)
        ),
        migrations.RunPython(render_existing, migrations.RunPython.noop),
    ]
