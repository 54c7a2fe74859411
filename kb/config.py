"""Settings: defaults that run out of the box, overridden by ``KB_*`` environment variables.

Everything lives in the instance folder (``KB_INSTANCE_DIR``, default ``$XDG_DATA_HOME/kb``,
i.e. ``~/.local/share/kb``), outside the project's own git tree: the content repository, the
search index, the SQLite database, the write lock and the generated secret key.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_MAX_BODY = 2 * 1024 * 1024
# the instance holds the whole content repository, every level at once: its owner only
INSTANCE_MODE = 0o700


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


# name -> (environment variable, converter)
_ENV: dict[str, tuple[str, Any]] = {
    "INSTANCE_DIR": ("KB_INSTANCE_DIR", str),
    "DATABASE_URL": ("KB_DATABASE_URL", str),
    "CONTENT_DIR": ("KB_CONTENT_DIR", str),
    "INDEX_DIR": ("KB_INDEX_DIR", str),
    "SECRET_KEY": ("KB_SECRET_KEY", str),
    "MAX_BODY_BYTES": ("KB_MAX_BODY_BYTES", int),
    "DEFAULT_ACCESS": ("KB_DEFAULT_ACCESS", str),
    "ANONYMOUS_READ": ("KB_ANONYMOUS_READ", _flag),
    "REQUIRE_REVIEW": ("KB_REQUIRE_REVIEW", _flag),
    "TIMEZONE": ("KB_TIMEZONE", str),
    "LOCK_TIMEOUT": ("KB_LOCK_TIMEOUT", float),
    "WORKERS": ("KB_WORKERS", int),
    "THREADS": ("KB_THREADS", int),
    "DEFAULT_LANGUAGE": ("KB_LANGUAGE", str),
    "SESSION_HOURS": ("KB_SESSION_HOURS", float),
    "PROXY_COUNT": ("KB_PROXY_COUNT", int),
    "SESSION_COOKIE_SECURE": ("KB_COOKIE_SECURE", _flag),
    "SEMANTIC": ("KB_SEMANTIC", _flag),
}


def default_instance_dir() -> Path:
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "kb"


def load(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Resolve the settings: defaults, then the environment, then ``overrides`` (tests)."""
    settings: dict[str, Any] = {
        "INSTANCE_DIR": str(default_instance_dir()),
        "MAX_BODY_BYTES": DEFAULT_MAX_BODY,
        "DEFAULT_ACCESS": "internal",
        "ANONYMOUS_READ": False,
        "REQUIRE_REVIEW": False,
        "TIMEZONE": "Asia/Shanghai",
        "LOCK_TIMEOUT": 60.0,
        # threads serve concurrent requests; a process adds a CPU for Python's work and costs
        # ~140 MB (the Chinese dictionary alone is 30 MB): half the CPUs, the other half being
        # left to git, SQLite and the index, which do their work outside the interpreter
        "WORKERS": max(1, min(4, (os.cpu_count() or 1) // 2)),
        "THREADS": 8,
        "DEFAULT_LANGUAGE": "zh",
        "SESSION_HOURS": 12.0,
        "PROXY_COUNT": 0,
        "SESSION_COOKIE_SECURE": False,
        # meaning vectors for questions (kb.search.semantic): a 70 MB model mapped per worker
        "SEMANTIC": True,
    }
    for name, (variable, convert) in _ENV.items():
        if variable in os.environ:
            settings[name] = convert(os.environ[variable])
    settings.update(overrides or {})
    instance = Path(settings["INSTANCE_DIR"]).resolve()
    settings["INSTANCE_DIR"] = str(instance)
    settings.setdefault("CONTENT_DIR", str(instance / "content.git"))
    settings.setdefault("INDEX_DIR", str(instance / "index"))
    settings.setdefault("DATABASE_URL", f"sqlite:///{instance / 'kb.sqlite3'}")
    settings["MAX_CONTENT_LENGTH"] = settings["MAX_BODY_BYTES"] + 64 * 1024
    settings.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    settings.setdefault("SESSION_COOKIE_HTTPONLY", True)
    settings["PERMANENT_SESSION_LIFETIME"] = dt.timedelta(hours=settings["SESSION_HOURS"])
    return settings


def zone(name: str) -> dt.tzinfo:
    """The time zone ``KB_TIMEZONE`` names (an IANA name such as ``Asia/Shanghai``)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SystemExit(f"KB_TIMEZONE: unknown time zone {name!r} (use an IANA name such as Asia/Shanghai)") from exc


def secret_key(instance_dir: Path) -> str:
    """The instance's secret key, generated into the instance folder on first use (never a constant)."""
    path = instance_dir / "secret_key"
    if not path.exists():
        instance_dir.mkdir(mode=INSTANCE_MODE, parents=True, exist_ok=True)
        staged = instance_dir / f".secret_key.{os.getpid()}"
        staged.write_text(secrets.token_urlsafe(48))
        staged.chmod(0o600)
        # link() fails when another worker won the race; both then read the winner's key
        try:
            os.link(staged, path)
        except FileExistsError:
            pass
        finally:
            staged.unlink()
    return path.read_text().strip()
