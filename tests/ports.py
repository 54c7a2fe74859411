"""Ports for the servers tests start: never a fixed number, which a parallel test worker or
another program may hold."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback port the kernel just handed out as free. A server started on it may still
    find it taken by someone faster: callers retry on a new port when their server fails to bind."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
