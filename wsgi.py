"""WSGI entry point for gunicorn: ``gunicorn -k kb.httpworker.HeadFirstWorker wsgi:app``.
Work after the answers runs in each worker's idle time, as under ``kb serve`` (``kb.idle``)."""

from kb import create_app

app = create_app({"IDLE_WORK": True})
