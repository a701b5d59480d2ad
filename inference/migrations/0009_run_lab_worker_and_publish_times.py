from django.db import migrations, models


class Migration(migrations.Migration):
    """Which worker runs a run or lab, and when it was last published: what the beat sweep needs
    to republish work the broker lost and to retry or fail work whose worker died."""

    dependencies = [("inference", "0008_retire_legacy_lab_variants")]

    operations = [
        migrations.AddField(
            model_name="sandboxrun",
            name="worker",
            field=models.CharField(blank=True, help_text="hostname:pid of the worker process running it.", max_length=200),
        ),
        migrations.AddField(
            model_name="sandboxrun",
            name="published_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="labjob",
            name="worker",
            field=models.CharField(blank=True, help_text="hostname:pid of the worker process running it.", max_length=200),
        ),
        migrations.AddField(
            model_name="labjob",
            name="published_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="labjob",
            name="started_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
