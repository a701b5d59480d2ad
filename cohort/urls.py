from django.urls import path

from cohort import invitation_views, lead_views, views
from cohort.check_ins import urls as check_in_urls
from cohort.office_hours import urls as office_hours_urls

app_name = "cohort"

urlpatterns = [
    path("", views.home, name="home"),
    path("join/", views.join, name="join"),
    path("join/<str:invite_code>/", views.join_link, name="join_link"),
    path("profile/", views.profile, name="profile"),
    path("invitations/", invitation_views.invitation_list, name="invitations"),
    path("invitations/<int:invitation_id>/answer/", invitation_views.invitation_respond, name="invitation_respond"),
    path("profile/timezone/", views.timezone_save, name="timezone_save"),
    path("c/<slug:cohort_slug>/", views.cohort_dashboard, name="dashboard"),
    path("c/<slug:cohort_slug>/steps/<slug:step_slug>/", views.step_detail, name="step"),
    path("c/<slug:cohort_slug>/steps/<slug:step_slug>/focus/", views.step_focus, name="step_focus"),
    path("c/<slug:cohort_slug>/lead/", views.lead_overview, name="lead_overview"),
    path("c/<slug:cohort_slug>/lead/home/", lead_views.lead_home, name="lead_home"),
    path("c/<slug:cohort_slug>/lead/learners/<int:membership_id>/", lead_views.learner_detail, name="learner_detail"),
    path("c/<slug:cohort_slug>/lead/roster/", views.lead_roster, name="lead_roster"),
    path("c/<slug:cohort_slug>/lead/invite/rotate/", views.lead_rotate_invite, name="lead_rotate_invite"),
]

# Features inside cohort keep their own URL lists; they share the `cohort` namespace.
urlpatterns += office_hours_urls.urlpatterns + check_in_urls.urlpatterns
