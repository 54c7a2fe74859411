"""A gunicorn threaded worker whose threads only ever serve complete request heads.

gunicorn's ``gthread`` worker hands a new connection to a thread, which then waits up to 5 s
for its first bytes and reads the head with blocking calls: a few clients that connect and
send nothing, or trickle their headers a byte at a time, hold every thread and starve
everyone else. Here the worker's event loop reads request heads itself, without blocking, and
passes a connection to the thread pool only once its head is complete:

- a connection that sends nothing is closed after ``IDLE_TIMEOUT``;
- a head that is not complete ``HEADER_TIMEOUT`` after its connection opened (or, on a kept-alive
  connection, after its first byte) is answered 408 and closed;
- a head larger than ``MAX_HEAD`` is answered 431 and closed.

It relies on gunicorn 27's ``ThreadWorker`` (``TConn``, ``enqueue_req``, ``murder_pending``),
which ``setup.cfg`` pins.
"""

from __future__ import annotations

import contextlib
import selectors
import time
from functools import partial
from typing import Any

from gunicorn.http.parser import RequestParser
from gunicorn.workers.gthread import TConn, ThreadWorker

IDLE_TIMEOUT = 5.0
HEADER_TIMEOUT = 10.0
# request line and headers together; a 2,000-character Chinese query is about 18 KB encoded,
# and what is longer than the API's limits must reach the app to be refused in JSON
MAX_HEAD = 256 * 1024
_READ = 64 * 1024
_END_OF_HEAD = (b"\r\n\r\n", b"\n\n")


def _status(code: int, reason: str) -> bytes:
    return f"HTTP/1.1 {code} {reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".encode("ascii")


_TIMED_OUT = _status(408, "Request Timeout")
_TOO_LARGE = _status(431, "Request Header Fields Too Large")


class HeadConn(TConn):
    """A connection with the head read so far, and when it was opened (or woke from keep-alive)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.head = bytearray()
        self.opened = time.monotonic()
        self.timeout: float = self.opened + IDLE_TIMEOUT


class HeadFirstWorker(ThreadWorker):
    """``gthread`` with the request head read by the event loop (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.heading: set[HeadConn] = set()  # connections whose head is still arriving

    def accept(self, listener: Any) -> None:
        try:
            client, address = listener.accept()
        except BlockingIOError:
            return  # another worker took it
        except ConnectionAbortedError:
            return
        self.nr_conns += 1
        conn = HeadConn(self.cfg, client, address, listener.getsockname())  # non-blocking
        self._await_head(conn, IDLE_TIMEOUT)

    def on_client_socket_readable(self, conn: TConn, client: Any) -> None:
        """A kept-alive connection has sent something: read its head here too."""
        assert isinstance(conn, HeadConn)  # this worker accepts every connection it serves
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._await_head(conn, HEADER_TIMEOUT)
        self._read_head(conn)

    def _await_head(self, conn: HeadConn, timeout: float) -> None:
        conn.head = bytearray()
        conn.opened = time.monotonic()
        conn.timeout = conn.opened + timeout
        self.heading.add(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._read_head, conn))

    def _read_head(self, conn: HeadConn, _sock: Any = None) -> None:
        try:
            data = conn.sock.recv(_READ)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._drop(conn)
            return
        if not conn.head:  # the whole head must arrive within HEADER_TIMEOUT of opening
            conn.timeout = conn.opened + HEADER_TIMEOUT
        conn.head += data
        if len(conn.head) > MAX_HEAD:
            self._drop(conn, _TOO_LARGE)
        elif any(end in conn.head for end in _END_OF_HEAD):
            self.heading.discard(conn)
            self.poller.unregister(conn.sock)
            conn.data_ready = True
            self.enqueue_req(conn)

    def handle(self, conn: TConn) -> Any:
        """In a thread: give the parser the head read so far, then serve as gthread does."""
        assert isinstance(conn, HeadConn)
        head, conn.head = bytes(conn.head), bytearray()
        if head:
            conn.init()  # a new connection gets its parser; a kept-alive one keeps it
            assert isinstance(conn.parser, RequestParser)  # kb serves HTTP/1.1 only
            conn.parser.unreader.unread(head)
        return super().handle(conn)

    def murder_pending(self) -> None:
        """Once a second: close the connections whose head is late (all of them when stopping)."""
        super().murder_pending()
        now = time.monotonic()
        for conn in [c for c in self.heading if c.timeout <= now or not self.alive]:
            self._drop(conn, _TIMED_OUT if conn.head and self.alive else None)

    def _drop(self, conn: HeadConn, answer: bytes | None = None) -> None:
        self.heading.discard(conn)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)
        if answer:
            with contextlib.suppress(OSError):
                conn.sock.send(answer)
        self.nr_conns -= 1
        conn.close()
