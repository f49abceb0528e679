"""A Django app that benchmarks/run.py adds to both projects it compares (ours and
cookiecutter-django's), so that both run the same task, the same endpoints and the same
publisher: only their own settings and code paths differ.

It is never part of a generated project: run.py puts this folder on PYTHONPATH and
selects probe.settings with DJANGO_SETTINGS_MODULE.
"""
