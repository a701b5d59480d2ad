from django.apps import AppConfig


class CohortConfig(AppConfig):
    name = "cohort"
    verbose_name = "Cohorts and roadmap"

    def ready(self) -> None:
        # Connects the worker heartbeat to Celery's worker_ready signal.
        import config.health

        # Connects the table stamps' write watcher to every database connection.
        import config.table_versions  # noqa: F401
