"""The site's URLs plus `/bench/floor`, the cheapest view Django can serve, as the latency baseline."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def floor(request: HttpRequest) -> HttpResponse:
    # Touches neither the session nor the database: what is left is the
    # middleware stack, gunicorn and loopback TCP.
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("bench/floor", floor),
    path("", include("config.urls")),
]
