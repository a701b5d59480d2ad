"""The sandbox's JSON API (django-ninja): one schema per endpoint, the OpenAPI document generated from them.

Mounted under /api/ by inference/urls.py in the `inference` URL namespace, so
the pages keep reversing `inference:api_runs` and friends.
"""

from __future__ import annotations

from ninja import NinjaAPI

from inference.api import errors, experiments, labs, sandbox
from inference.api.auth import MemberSession

api = NinjaAPI(
    title="First Break AI sandbox API",
    version="1",
    description=(
        "The inference sandbox: tokenize, render chat templates, start runs and labs, read their tokens. "
        "Sign in on the site first: calls use the session cookie, and writes need the `X-CSRFToken` header "
        '(the interactive docs at /api/docs send it). Errors answer `{"error": ..., "fields": {...}}`; '
        "429 answers carry `Retry-After`."
    ),
    urls_namespace="inference",
    openapi_url="/openapi.json",
    # Served by inference/urls.py for signed-in users only; the document itself stays public.
    docs_url=None,
    auth=MemberSession(),
    parser=errors.JSONObjectParser(),
)
errors.install(api)
api.add_router("/sandbox", sandbox.router, tags=["sandbox"])
api.add_router("/sandbox/labs", labs.router, tags=["labs"])
api.add_router("/sandbox/experiments", experiments.router, tags=["experiments"])
