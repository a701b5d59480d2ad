from django.urls import path

from cohort import invitation_views, lead_views, views
from cohort.check_ins import stuck_views
from cohort.check_ins import views as check_in_views
from cohort.office_hours import calendar_views
from cohort.office_hours import live_views as live_session_views
from cohort.office_hours import views as office_hours_views

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

# Office hours (cohort/office_hours/views.py).
_sessions = "c/<slug:cohort_slug>/sessions/"
_session = _sessions + "<int:number>/"
urlpatterns += [
    path(_sessions, office_hours_views.session_list, name="sessions"),
    path(_sessions + "new/", office_hours_views.session_create, name="session_create"),
    path(_sessions + "series/", office_hours_views.session_series, name="session_series"),
    path(_sessions + "recaps/", office_hours_views.recap_list, name="recaps"),
    path(_session, office_hours_views.session_detail, name="session"),
    path(_session + "edit/", office_hours_views.session_edit, name="session_edit"),
    path(_session + "status/", office_hours_views.session_status, name="session_status"),
    path(_session + "topics/", office_hours_views.session_topics, name="session_topics"),
    path(_session + "topics/<int:topic_id>/edit/", office_hours_views.topic_edit, name="topic_edit"),
    path(_session + "topics/<int:topic_id>/delete/", office_hours_views.topic_delete, name="topic_delete"),
    path(_session + "recap/", office_hours_views.recap_detail, name="recap"),
    path(_session + "recap/edit/", office_hours_views.recap_edit, name="recap_edit"),
    path(_session + "questions/", office_hours_views.question_create, name="question_create"),
    path(_session + "questions/all/", office_hours_views.session_questions, name="session_questions"),
    path(_session + "questions/<int:question_id>/edit/", office_hours_views.question_edit, name="question_edit"),
    path(_session + "questions/<int:question_id>/delete/", office_hours_views.question_delete, name="question_delete"),
    path(_session + "questions/<int:question_id>/vote/", office_hours_views.question_vote, name="question_vote"),
    path(_session + "questions/<int:question_id>/answer/", office_hours_views.question_answer, name="question_answer"),
]

# Calendars (cohort/office_hours/calendar_views.py). Feed URLs carry a secret token instead of a login.
urlpatterns += [
    path("calendars/cohort/<str:token>.ics", calendar_views.cohort_feed, name="calendar_cohort_feed"),
    path("calendars/member/<str:token>.ics", calendar_views.member_feed, name="calendar_member_feed"),
    path(_session + "calendar.ics", calendar_views.session_ics, name="session_ics"),
    path(_sessions + "calendar/rotate/", calendar_views.rotate_member_token, name="calendar_rotate"),
    path(_sessions + "calendar/cohort/rotate/", calendar_views.rotate_cohort_token, name="calendar_cohort_rotate"),
]

# Check-ins, who is stuck and the agenda builder (cohort/check_ins/views.py, cohort/check_ins/stuck_views.py).
urlpatterns += [
    path("c/<slug:cohort_slug>/check-ins/", check_in_views.check_in_list, name="check_ins"),
    path("c/<slug:cohort_slug>/check-ins/new/", check_in_views.check_in_create, name="check_in_create"),
    path("c/<slug:cohort_slug>/lead/stuck/", stuck_views.lead_stuck, name="lead_stuck"),
    path(
        "c/<slug:cohort_slug>/lead/stuck/blockers/<int:check_in_id>/resolve/",
        stuck_views.blocker_resolve,
        name="blocker_resolve",
    ),
    path("c/<slug:cohort_slug>/lead/agenda/", stuck_views.lead_agenda, name="lead_agenda"),
    path("c/<slug:cohort_slug>/lead/agenda/<int:number>/add/", stuck_views.agenda_add, name="agenda_add"),
]

# RSVP, attendance and the live help queue (cohort/office_hours/live_views.py).
urlpatterns += [
    path(_session + "live/", live_session_views.session_live, name="session_live"),
    path(_session + "live/state/", live_session_views.live_state, name="session_live_state"),
    path(_session + "live/room/", live_session_views.help_room_set, name="session_help_room"),
    path(_session + "announcements/", live_session_views.announcement_post, name="announcement_post"),
    path(
        _session + "announcements/<int:announcement_id>/delete/",
        live_session_views.announcement_delete,
        name="announcement_delete",
    ),
    path(_session + "rsvp/", live_session_views.rsvp, name="session_rsvp"),
    path(_session + "rsvp/panel/", live_session_views.rsvp_panel, name="session_rsvp_panel"),
    path(_session + "check-in/", live_session_views.check_in, name="session_check_in"),
    path(_session + "attendance/", live_session_views.attendance_roster, name="session_attendance"),
    path(_session + "attendance/mark/", live_session_views.attendance_mark, name="session_attendance_mark"),
    path(_session + "queue/", live_session_views.help_queue, name="help_queue"),
    path(_session + "queue/join/", live_session_views.help_queue_join, name="help_queue_join"),
    path(_session + "queue/leave/", live_session_views.help_queue_leave, name="help_queue_leave"),
    path(_session + "queue/<int:request_id>/take/", live_session_views.help_request_take, name="help_request_take"),
    path(
        _session + "queue/<int:request_id>/finish/",
        live_session_views.help_request_finish,
        name="help_request_finish",
    ),
    path(
        _session + "queue/<int:request_id>/put-back/",
        live_session_views.help_request_put_back,
        name="help_request_put_back",
    ),
    path(
        _session + "queue/<int:request_id>/annotate/",
        live_session_views.help_request_annotate,
        name="help_request_annotate",
    ),
    path(_sessions + "attendance/", live_session_views.my_attendance, name="my_attendance"),
    path(
        _sessions + "attendance/<int:membership_id>/",
        live_session_views.member_attendance,
        name="member_attendance",
    ),
]
