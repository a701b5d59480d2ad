from django.contrib import admin
from django.urls import include, path

from config.health import healthz

admin.site.site_header = "First Break AI admin"
admin.site.site_title = "First Break AI"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("", include("inference.urls")),
    path("", include("exercises.urls")),
    path("", include("cohort.urls")),
]
