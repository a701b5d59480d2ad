"""Office hours: sessions and series, topics, questions, RSVPs, the live session and its help queue, calendars, reminders.

Builds on core cohort (models, access, services); core cohort never imports this package.
"""
