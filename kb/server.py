"""``python -m kb.server``: the app under gunicorn, several worker processes with threads.

``kb serve`` migrates and catches the stores up, then replaces itself with this module, so
the master process that remains holds gunicorn and nothing of the app. No preloading either:
each worker builds its own app, so git and index handles are never shared across a fork.
Connections are read by ``kb.httpworker.HeadFirstWorker``: idle and slow clients cost no thread.
What a save leaves for after its answer (index, prerendered page) each worker does in its idle
time (``kb.idle``); with KB_FOLLOW=1 the master starts ``kb.follow`` beside the workers for it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from typing import Any

from gunicorn.app.base import BaseApplication

# kept-alive connections idle longer than this are closed (seconds)
KEEPALIVE = 5


class _Server(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from kb.app import create_app

        return create_app({"IDLE_WORK": True})


def options(host: str, port: int, workers: int, threads: int) -> dict[str, Any]:
    """gunicorn's settings for kb."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "kb.httpworker.HeadFirstWorker",
        "keepalive": KEEPALIVE,
        # the worker's event loop reports to the master every second whatever its threads do:
        # this only catches a stuck loop, not a long export
        "timeout": 60,
        # the head's size is bounded by the worker (MAX_HEAD); over-long queries reach the app
        "limit_request_line": 0,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "when_ready": _start_follower,
        "on_exit": _stop_follower,
    }


# ``python -m kb.follow``: index and prerendered pages follow the commits beside the workers
_follower: list[subprocess.Popen] = []


def _start_follower(_server: Any) -> None:
    """Started by the master once it listens (the master itself imports none of the app) when
    KB_FOLLOW=1. Otherwise each worker does that work in its idle time (``kb.idle``): as fast
    for a client saving one document after another, and a process (~125 MB) less."""
    if os.environ.get("KB_FOLLOW", "0") == "1":
        _follower.append(subprocess.Popen([sys.executable, "-m", "kb.follow"]))


def _stop_follower(_server: Any) -> None:
    for process in _follower:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    _follower.clear()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m kb.server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    print(
        f"kb is serving on http://{args.host}:{args.port}/ with {args.workers} workers × "
        f"{args.threads} threads (Ctrl-C stops)",
        flush=True,
    )
    _Server(options(args.host, args.port, args.workers, args.threads)).run()


if __name__ == "__main__":
    main()
