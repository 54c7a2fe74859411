"""WSGI entry point for gunicorn: ``gunicorn -k kb.httpworker.HeadFirstWorker wsgi:app``.
Each worker brings the stores up to git as it starts (one at a time, under the write lock);
work after the answers runs in its idle time, as under ``kb serve`` (``kb.idle``)."""

from kb import create_app
from kb.instance import catch_up

app = create_app({"IDLE_WORK": True})
catch_up(app.extensions["kb.stores"])
