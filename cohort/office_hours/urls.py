"""Office-hours URLs. Included into the `cohort` namespace by `cohort/urls.py`, so names stay `cohort:session` etc."""

from django.urls import path

from cohort.office_hours import calendar_views, live_views, queue_views, views

# Sessions, topics, questions and recaps (views.py).
_sessions = "c/<slug:cohort_slug>/sessions/"
_session = _sessions + "<int:number>/"
urlpatterns = [
    path(_sessions, views.session_list, name="sessions"),
    path(_sessions + "new/", views.session_create, name="session_create"),
    path(_sessions + "series/", views.session_series, name="session_series"),
    path(_sessions + "recaps/", views.recap_list, name="recaps"),
    path(_session, views.session_detail, name="session"),
    path(_session + "edit/", views.session_edit, name="session_edit"),
    path(_session + "status/", views.session_status, name="session_status"),
    path(_session + "topics/", views.session_topics, name="session_topics"),
    path(_session + "topics/<int:topic_id>/edit/", views.topic_edit, name="topic_edit"),
    path(_session + "topics/<int:topic_id>/delete/", views.topic_delete, name="topic_delete"),
    path(_session + "recap/", views.recap_detail, name="recap"),
    path(_session + "recap/edit/", views.recap_edit, name="recap_edit"),
    path(_session + "questions/", views.question_create, name="question_create"),
    path(_session + "questions/all/", views.session_questions, name="session_questions"),
    path(_session + "questions/<int:question_id>/edit/", views.question_edit, name="question_edit"),
    path(_session + "questions/<int:question_id>/delete/", views.question_delete, name="question_delete"),
    path(_session + "questions/<int:question_id>/vote/", views.question_vote, name="question_vote"),
    path(_session + "questions/<int:question_id>/answer/", views.question_answer, name="question_answer"),
]

# Calendars (calendar_views.py). Feed URLs carry a secret token instead of a login.
urlpatterns += [
    path("calendars/cohort/<str:token>.ics", calendar_views.cohort_feed, name="calendar_cohort_feed"),
    path("calendars/member/<str:token>.ics", calendar_views.member_feed, name="calendar_member_feed"),
    path(_session + "calendar.ics", calendar_views.session_ics, name="session_ics"),
    path(_sessions + "calendar/rotate/", calendar_views.rotate_member_token, name="calendar_rotate"),
    path(_sessions + "calendar/cohort/rotate/", calendar_views.rotate_cohort_token, name="calendar_cohort_rotate"),
]

# RSVP, attendance and the live help queue (live_views.py).
urlpatterns += [
    path(_session + "live/", live_views.session_live, name="session_live"),
    path(_session + "live/state/", live_views.live_state, name="session_live_state"),
    path(_session + "live/room/", queue_views.help_room_set, name="session_help_room"),
    path(_session + "announcements/", live_views.announcement_post, name="announcement_post"),
    path(
        _session + "announcements/<int:announcement_id>/delete/",
        live_views.announcement_delete,
        name="announcement_delete",
    ),
    path(_session + "rsvp/", live_views.rsvp, name="session_rsvp"),
    path(_session + "rsvp/panel/", live_views.rsvp_panel_fragment, name="session_rsvp_panel"),
    path(_session + "check-in/", live_views.attendance_code_submit, name="session_check_in"),
    path(_session + "attendance/", live_views.attendance_roster_fragment, name="session_attendance"),
    path(_session + "attendance/mark/", live_views.attendance_mark, name="session_attendance_mark"),
    path(_session + "queue/", queue_views.help_queue, name="help_queue"),
    path(_session + "queue/join/", queue_views.help_queue_join, name="help_queue_join"),
    path(_session + "queue/leave/", queue_views.help_queue_leave, name="help_queue_leave"),
    path(_session + "queue/<int:request_id>/take/", queue_views.help_request_take, name="help_request_take"),
    path(
        _session + "queue/<int:request_id>/finish/",
        queue_views.help_request_finish,
        name="help_request_finish",
    ),
    path(
        _session + "queue/<int:request_id>/put-back/",
        queue_views.help_request_put_back,
        name="help_request_put_back",
    ),
    path(
        _session + "queue/<int:request_id>/annotate/",
        queue_views.help_request_annotate,
        name="help_request_annotate",
    ),
    path(_sessions + "attendance/", live_views.my_attendance, name="my_attendance"),
    path(
        _sessions + "attendance/<int:membership_id>/",
        live_views.member_attendance,
        name="member_attendance",
    ),
]
