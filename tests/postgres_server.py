"""A throwaway PostgreSQL server for the tests: initdb in a temporary folder, listen on a free
loopback port, stop at the end. As root it runs the server as the ``postgres`` system user,
since PostgreSQL refuses to run as root."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ports import free_port


def _bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (scripts/test.sh installs it with apt-get)")
    return found


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yield a SQLAlchemy URL of a fresh database on a private server."""
    folder = Path(tempfile.mkdtemp(prefix="kb-pg-"))
    data = folder / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True, capture_output=True)  # noqa: E731
    run(_bin("initdb"), "-D", str(data), "-U", "kb", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
    port = _start(run, data, folder)
    try:
        deadline = time.monotonic() + 30
        while (
            subprocess.run([_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True).returncode
            != 0
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not start")
            time.sleep(0.2)
        run(_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "kb", "kb")
        yield f"postgresql+psycopg://kb@127.0.0.1:{port}/kb"
    finally:
        run(_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def _start(run: Callable[..., object], data: Path, folder: Path) -> int:
    """Start the server on a port the kernel just handed out and return it. Another process (a
    parallel test worker's server, say) may take the port before PostgreSQL binds it: then the
    start fails and a new port is tried."""
    failure: subprocess.CalledProcessError | None = None
    for _attempt in range(3):
        port = free_port()
        try:
            run(
                _bin("pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(folder / "log"),
                "-w",
                "-o",
                f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off",
                "start",
            )
            return port
        except subprocess.CalledProcessError as error:
            failure = error
    assert failure is not None
    raise failure


def empty_database(url: str) -> None:
    """Drop everything in the database at ``url`` (tables, the migrations' version table, the
    audit trigger's function), so the next app starts on an empty database."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
