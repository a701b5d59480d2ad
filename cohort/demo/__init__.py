"""Demo data for `manage.py seed_demo`: the cohort and roadmap, office hours, and activity in them."""
