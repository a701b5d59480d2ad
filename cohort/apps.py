from django.apps import AppConfig


class CohortConfig(AppConfig):
    name = "cohort"
    verbose_name = "Cohorts and roadmap"

    def ready(self) -> None:
        # Imported for their side effects: the worker heartbeat connects to Celery's worker_ready
        # signal, the table stamps' write watcher to every database connection.
        from config import health, table_versions  # noqa: F401
