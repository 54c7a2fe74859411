"""``kb serve``: the app under gunicorn, a production WSGI server with several worker processes.

No preloading: each worker builds its own app, so git and index handles are never shared
across a fork.
"""

from __future__ import annotations

from typing import Any

import click
from gunicorn.app.base import BaseApplication

from kb import create_app


class _Server(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return create_app({"CATCH_UP": False})


def run(host: str, port: int, workers: int) -> None:
    click.echo(f"kb is serving on http://{host}:{port}/ with {workers} workers (Ctrl-C stops)")
    _Server({"bind": f"{host}:{port}", "workers": workers, "worker_class": "sync", "timeout": 300,
             "accesslog": None, "errorlog": "-", "loglevel": "warning"}).run()
