"""Index generations: whole Whoosh indexes in sibling directories, one of them live.

``kb reindex`` must not take search away while it runs, so a rebuild writes a fresh
generation directory and then swaps a pointer file (``CURRENT``, replaced atomically with
``os.replace``) to name it. Readers check the pointer with one ``stat`` per search and move to
the new generation when it changes. A retired generation is kept for a grace period, so a
reader that saw the old pointer a moment ago can still open it and finish its search.

Writers (``apply`` and the swap at the end of ``rebuild``) serialise on ``write.lock`` with
``flock``; the services already hold their own lock, this one only makes the package safe on
its own. Whoosh's lock inside each generation still guards the segment files themselves.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

POINTER = "CURRENT"
LOCK_FILE = "write.lock"
PREFIX = "gen-"
RETIRED = "RETIRED"
# Seconds a retired generation is kept for readers that were opening it when it was swapped.
RETIRE_GRACE = 60.0

_thread_locks: dict[str, threading.RLock] = {}
_thread_locks_guard = threading.Lock()
_held = threading.local()  # .keys: the roots whose file lock this thread holds


def new_name() -> str:
    """A generation name that sorts by creation time and never collides."""
    return f"{PREFIX}{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"


def read_pointer(root: Path) -> str | None:
    try:
        name = (root / POINTER).read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    return name if name.startswith(PREFIX) and "/" not in name and (root / name).is_dir() else None


def pointer_stamp(root: Path) -> tuple[int, int] | None:
    """Changes whenever the pointer file is replaced (new inode) or rewritten."""
    try:
        st = os.stat(root / POINTER)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def write_pointer(root: Path, name: str) -> None:
    """Point readers at ``name``, atomically and durably."""
    tmp = root / f"{POINTER}.{uuid.uuid4().hex[:8]}.tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(name + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, root / POINTER)
    with contextlib.suppress(OSError):
        dir_fd = os.open(root, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def retire(root: Path, name: str) -> None:
    """Mark a generation as no longer live (it is deleted once the grace period has passed)."""
    with contextlib.suppress(OSError):
        (root / name / RETIRED).touch()


def remove_stale(root: Path, keep: set[str], grace: float | None = None) -> None:
    """Delete generations not in ``keep``: retired ones after ``grace`` seconds, others now.

    A reader may have read the pointer just before it was swapped and be opening the old
    generation's files; the grace period lets it finish (files it has open stay readable after
    deletion anyway). A generation without the retired mark and not live is what a failed or
    interrupted rebuild left behind; callers hold the write lock, so none is being built.
    """
    grace = RETIRE_GRACE if grace is None else grace
    now = time.time()
    for child in root.iterdir():
        if child.name.startswith(PREFIX) and child.name not in keep and child.is_dir():
            try:
                retired_at = (child / RETIRED).stat().st_mtime
            except OSError:
                retired_at = None
            if retired_at is None or now - retired_at >= grace:
                shutil.rmtree(child, ignore_errors=True)
        elif child.name.startswith(f"{POINTER}.") and child.name.endswith(".tmp"):
            with contextlib.suppress(OSError):
                child.unlink()


def flock_within(fd: int, seconds: float, poll: float = 0.005) -> bool:
    """Take an exclusive ``flock`` on ``fd``, trying for up to ``seconds``; whether it was taken
    (a blocking flock could not be given up on)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            time.sleep(poll)


@contextlib.contextmanager
def holding(lock_file: Path, wait: float = 0.0, mode: int = 0o644) -> Iterator[bool]:
    """Hold ``lock_file``'s exclusive lock while inside, waiting up to ``wait`` seconds for it;
    yields whether it is held (False: another thread or process has it)."""
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, mode)
    try:
        if not flock_within(fd, wait, poll=0.01):
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def write_lock(root: Path, timeout: float = 600.0) -> Iterator[None]:
    """Exclusive across threads and processes; waits up to ``timeout`` seconds. Re-entrant in
    the thread that holds it (a catch-up that applies a commit holds it around ``apply``)."""
    key = str(root.resolve())
    with _thread_locks_guard:
        tlock = _thread_locks.setdefault(key, threading.RLock())
    if not tlock.acquire(timeout=timeout):
        raise TimeoutError(f"search index is locked for writing: {root}")
    held = getattr(_held, "keys", None)
    if held is None:
        held = _held.keys = set()
    if key in held:  # this thread holds the file lock already: a second flock would wait for itself
        try:
            yield
        finally:
            tlock.release()
        return
    held.add(key)
    try:
        fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if not flock_within(fd, timeout):
                raise TimeoutError(f"search index is locked for writing: {root}")
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    finally:
        held.discard(key)
        tlock.release()
