from django.urls import path

from cohort import views

app_name = "cohort"

urlpatterns = [
    path("", views.home, name="home"),
    path("join/", views.join, name="join"),
    path("join/<str:invite_code>/", views.join_link, name="join_link"),
    path("profile/", views.profile, name="profile"),
    path("c/<slug:cohort_slug>/", views.cohort_dashboard, name="dashboard"),
    path("c/<slug:cohort_slug>/steps/<slug:step_slug>/", views.step_detail, name="step"),
    path("c/<slug:cohort_slug>/steps/<slug:step_slug>/focus/", views.step_focus, name="step_focus"),
    path("c/<slug:cohort_slug>/lead/", views.lead_overview, name="lead_overview"),
    path("c/<slug:cohort_slug>/lead/roster/", views.lead_roster, name="lead_roster"),
    path("c/<slug:cohort_slug>/lead/invite/rotate/", views.lead_rotate_invite, name="lead_rotate_invite"),
]
