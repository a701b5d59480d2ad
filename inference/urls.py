from functools import partial

from django.contrib.auth.decorators import login_required
from django.urls import include, path
from ninja.openapi.views import openapi_view

from inference import experiment_views, views
from inference.api import api
from inference.lab_views import inspector, lab_detail, labs_index

app_name = "inference"

# The API's own patterns (operations, /api/openapi.json) join this namespace, so
# `inference:api_runs` and friends keep their names.
api_patterns, _app_name, _namespace = api.urls

urlpatterns = [
    path("api/", include(api_patterns)),
    # Swagger UI from django-ninja's static files (no CDN), for signed-in users.
    path("api/docs", login_required(partial(openapi_view, api=api)), name="api_docs"),
    path("sandbox/", views.sandbox, name="sandbox"),
    path("sandbox/runs/<int:run_id>/", views.run_page, name="run_page"),
    path("sandbox/runs/<int:run_id>/share/", views.run_share, name="run_share"),
    path("sandbox/compare/", views.compare, name="compare"),
    path("sandbox/labs/", labs_index, name="labs"),
    path("sandbox/labs/<int:job_id>/", lab_detail, name="lab_detail"),
    path("sandbox/models/<str:slug>/inspect/", inspector, name="inspector"),
    path("sandbox/experiments/new/", experiment_views.experiment_new, name="experiment_new"),
    path("sandbox/experiments/<int:experiment_id>/", experiment_views.experiment_detail, name="experiment"),
    path("sandbox/experiments/<int:experiment_id>/run/", experiment_views.experiment_run, name="experiment_run"),
    path("sandbox/experiments/<int:experiment_id>/close/", experiment_views.experiment_close, name="experiment_close"),
    path(
        "sandbox/experiments/<int:experiment_id>/reopen/", experiment_views.experiment_reopen, name="experiment_reopen"
    ),
    path(
        "sandbox/experiments/<int:experiment_id>/recap/", experiment_views.experiment_attach, name="experiment_attach"
    ),
]
