from django.apps import AppConfig


class ExercisesConfig(AppConfig):
    name = "exercises"
    verbose_name = "Exercises"

    def ready(self) -> None:
        # Connects the receivers of other apps' signals (inference's finished sandbox work).
        from exercises import receivers  # noqa: F401
