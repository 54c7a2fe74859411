"""Work after the answer, done when the worker is idle: a thread per worker process.

What a save leaves for later (the search index update, the prerendered page) costs more CPU
than the save itself. Run in the request's thread right after its answer, it competes for the
interpreter with the requests that follow, and a client saving one document after another
waits about twice as long. Here it waits until no request has been in flight for ``QUIET``
seconds, or until the oldest waiting item is ``MAX_DELAY`` old, and runs one item at a time,
looking again between items. Nothing depends on it being prompt: every search first brings the
index up to the catalog's commit, and a page not yet rendered is rendered when first viewed.

``kb serve``'s workers use it (``IDLE_WORK``); elsewhere (tests, ``kb`` commands) the work runs
once the answer is sent, as before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wsgi import ClosingIterator

from kb.stores.write_path import answered

log = logging.getLogger(__name__)

QUIET = 0.05
MAX_DELAY = 5.0

Work = Callable[[], None]


class IdleRunner:
    """Counts the requests in flight (``wrap`` the WSGI app) and runs ``submit``ted work when
    there are none (see the module docstring)."""

    def __init__(self, quiet: float = QUIET, max_delay: float = MAX_DELAY) -> None:
        self.quiet, self.max_delay = quiet, max_delay
        self._waiting: deque[tuple[float, Work]] = deque()
        self._in_flight = 0
        self._last_active = time.monotonic()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def wrap(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        def counted(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            self._enter()
            try:
                return ClosingIterator(app(environ, start_response), [self._leave])
            except BaseException:
                self._leave()
                raise

        return counted

    def submit(self, work: Work) -> None:
        with self._changed:
            self._waiting.append((time.monotonic(), work))
            if self._thread is None:  # started in the worker process, never before a fork
                self._thread = threading.Thread(target=self._run, name="kb-idle-work", daemon=True)
                self._thread.start()
            self._changed.notify()

    def _enter(self) -> None:
        with self._changed:
            self._in_flight += 1

    def _leave(self) -> None:
        with self._changed:
            self._in_flight -= 1
            self._last_active = time.monotonic()
            self._changed.notify()

    def _next(self) -> Work:
        """The oldest item, once the worker is quiet or the item has waited long enough."""
        with self._changed:
            while True:
                now = time.monotonic()
                if self._waiting:
                    overdue = self._waiting[0][0] + self.max_delay - now
                    quiet = self._last_active + self.quiet - now if self._in_flight == 0 else self.quiet
                    if overdue <= 0 or (self._in_flight == 0 and quiet <= 0):
                        return self._waiting.popleft()[1]
                    self._changed.wait(max(0.001, min(overdue, quiet)))
                else:
                    self._changed.wait()

    def _run(self) -> None:
        while True:
            work = self._next()
            try:
                with answered():
                    work()
            except Exception:  # each item logs its own failures; nothing may stop this thread
                log.exception("work after the answer failed")
