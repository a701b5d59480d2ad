"""Status check-ins, who is stuck, and the agenda a lead builds from them for a session.

Builds on core cohort and on office hours (the agenda adds topics to a session).
"""
