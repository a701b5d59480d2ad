from django.contrib import admin
from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

from config.health import healthz

admin.site.site_header = "First Break AI admin"
admin.site.site_title = "First Break AI"


def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    # Pages link the SVG icon; browsers still ask for /favicon.ico on pages that don't (the admin, raw JSON).
    return HttpResponsePermanentRedirect(static("favicon.svg"))


urlpatterns = [
    path("favicon.ico", favicon),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("", include("inference.urls")),
    path("", include("exercises.urls")),
    path("", include("cohort.urls")),
]
