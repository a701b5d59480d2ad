from django.urls import path

from exercises import views
from exercises.webhooks import github_webhook

app_name = "exercises"

urlpatterns = [
    path("webhooks/github/", github_webhook, name="github_webhook"),
    path("c/<slug:cohort_slug>/exercises/panel/", views.exercise_panel, name="exercise_panel"),
    path("c/<slug:cohort_slug>/exercises/<slug:exercise_slug>/", views.exercise_detail, name="exercise"),
    path("c/<slug:cohort_slug>/exercises/<slug:exercise_slug>/link/", views.exercise_link, name="exercise_link"),
    path(
        "c/<slug:cohort_slug>/exercises/<slug:exercise_slug>/done/",
        views.exercise_self_check,
        name="exercise_self_check",
    ),
    path("c/<slug:cohort_slug>/submissions/<int:submission_id>/", views.submission_detail, name="submission"),
    path(
        "c/<slug:cohort_slug>/submissions/<int:submission_id>/state/", views.submission_state, name="submission_state"
    ),
    path(
        "c/<slug:cohort_slug>/submissions/<int:submission_id>/unlink/",
        views.submission_unlink,
        name="submission_unlink",
    ),
    path("c/<slug:cohort_slug>/lead/reviews/", views.lead_review_queue, name="lead_reviews"),
    path("c/<slug:cohort_slug>/lead/github/", views.lead_github_accounts, name="lead_github"),
    path(
        "c/<slug:cohort_slug>/lead/github/<int:membership_id>/confirm/",
        views.lead_github_confirm,
        name="lead_github_confirm",
    ),
    path("c/<slug:cohort_slug>/lead/exercises/", views.lead_completion_matrix, name="lead_matrix"),
]
