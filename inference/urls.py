from django.urls import path

from inference import api, lab_api, openapi, views
from inference.lab_views import inspector, lab_detail, labs_index

app_name = "inference"

urlpatterns = [
    path("api/openapi.json", openapi.schema, name="openapi"),
    path("api/sandbox/models", api.models_list, name="api_models"),
    path("api/sandbox/models/<str:slug>/inspect", api.models_inspect, name="api_model_inspect"),
    path("api/sandbox/tokenize", api.tokenize, name="api_tokenize"),
    path("api/sandbox/render", api.render, name="api_render"),
    path("api/sandbox/runs", api.runs_dispatch, name="api_runs"),
    path("api/sandbox/runs/<int:run_id>", api.runs_detail, name="api_run"),
    path("api/sandbox/runs/<int:run_id>/cancel", api.runs_cancel, name="api_run_cancel"),
    path("api/sandbox/runs/<int:run_id>/branch", api.runs_branch, name="api_run_branch"),
    path("api/sandbox/runs/<int:run_id>/tree", api.runs_tree, name="api_run_tree"),
    path("api/sandbox/labs/pipeline", lab_api.labs_pipeline, name="api_lab_pipeline"),
    path("api/sandbox/labs/sweep", lab_api.labs_sweep, name="api_lab_sweep"),
    path("api/sandbox/labs/speculative", lab_api.labs_speculative, name="api_lab_speculative"),
    path("api/sandbox/labs/quantization", lab_api.labs_quantization, name="api_lab_quantization"),
    path("api/sandbox/labs/<int:job_id>", lab_api.labs_detail, name="api_lab"),
    path("api/sandbox/labs/<int:job_id>/share", lab_api.labs_share, name="api_lab_share"),
    path("sandbox/", views.sandbox, name="sandbox"),
    path("sandbox/runs/<int:run_id>/", views.run_page, name="run_page"),
    path("sandbox/runs/<int:run_id>/share/", views.run_share, name="run_share"),
    path("sandbox/compare/", views.compare, name="compare"),
    path("sandbox/labs/", labs_index, name="labs"),
    path("sandbox/labs/<int:job_id>/", lab_detail, name="lab_detail"),
    path("sandbox/models/<str:slug>/inspect/", inspector, name="inspector"),
]
