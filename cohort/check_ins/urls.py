"""Check-in, who-is-stuck and agenda URLs. Included into the `cohort` namespace by `cohort/urls.py`."""

from django.urls import path

from cohort.check_ins import stuck_views, views

urlpatterns = [
    path("c/<slug:cohort_slug>/check-ins/", views.check_in_list, name="check_ins"),
    path("c/<slug:cohort_slug>/check-ins/new/", views.check_in_create, name="check_in_create"),
    path("c/<slug:cohort_slug>/lead/stuck/", stuck_views.lead_stuck, name="lead_stuck"),
    path(
        "c/<slug:cohort_slug>/lead/stuck/blockers/<int:check_in_id>/resolve/",
        stuck_views.blocker_resolve,
        name="blocker_resolve",
    ),
    path("c/<slug:cohort_slug>/lead/agenda/", stuck_views.lead_agenda, name="lead_agenda"),
    path("c/<slug:cohort_slug>/lead/agenda/<int:number>/add/", stuck_views.agenda_add, name="agenda_add"),
]
