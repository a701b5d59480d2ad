from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cohort.demo import roadmap as demo
from cohort.demo.activity import seed_office_hours_activity
from cohort.demo.office_hours import seed_office_hours
from exercises.demo import seed_demo_completions, seed_exercises


class Command(BaseCommand):
    help = "Create the First Break AI demo cohort, roadmap and logins (development only; safe to run twice)."

    def handle(self, *args: object, **options: object) -> None:
        if not settings.DEBUG:
            raise CommandError("seed_demo creates accounts with a published password; it only runs with DEBUG on.")
        cohort = demo.seed_demo()
        seed_exercises(cohort)
        seed_demo_completions(cohort)
        seed_office_hours_activity(cohort, seed_office_hours(cohort))
        self.stdout.write(self.style.SUCCESS(f"Demo cohort ready: {cohort.name} (/c/{cohort.slug}/)"))
        self.stdout.write(f"  lead:     {demo.LEAD_EMAIL} / {demo.DEMO_PASSWORD}")
        for email, _name, _github in demo.LEARNERS:
            self.stdout.write(f"  learner:  {email} / {demo.DEMO_PASSWORD}")
