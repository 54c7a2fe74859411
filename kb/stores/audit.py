"""The audit trail: who did what, from where, to which document, with what outcome.

Entries are appended, never changed. Each entry's hash covers its own fields and the hash of
the entry before it, so editing an entry breaks its own hash and removing one breaks the link
of the next; ``verify`` walks the chain and names the entry where it breaks. Appends are
serialized (a file lock in the instance, plus an advisory lock on PostgreSQL) so the chain stays
a single line across worker processes. The database refuses UPDATE and DELETE on the table
(triggers), and the newest entry is also recorded in a file outside the database, so cutting
entries off the end is caught too.

Entries about a document carry its access level: reading the trail follows clearance like
everything else.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import os
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock
from sqlalchemy import Row, Select, func, insert, or_, select, text
from sqlalchemy.orm import Session, sessionmaker

from kb import access
from kb.access import Principal
from kb.errors import BadRequest
from kb.models import AuditEntry, table_of, utcnow
from kb.moments import parse_moment
from kb.paging import Page
from kb.stores.db import durable

log = logging.getLogger(__name__)

GENESIS = "0" * 64
# what the chain hashes, in this order; changing it would invalidate every stored chain
HASHED_FIELDS = ("id", "at", "actor", "address", "action", "target", "revision", "level", "outcome", "detail")
CSV_FIELDS = (*HASHED_FIELDS, "prev_hash", "hash")
MAX_DETAIL = 2000
MAX_PER_PAGE = 500  # entries on a page of the trail
OUTCOMES = ("ok", "failed", "denied", "throttled")
# sign-ins through the login form and through POST /api/v1/tokens share one failure count
SIGN_IN_ACTIONS = ("login", "token_login")
# more targets than this are matched as the rows stream by, not in one SQL statement
MAX_SQL_TARGETS = 500

# built once: the statements are on the path of every write and audited read
_NEWEST = select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
_INSERT = insert(table_of(AuditEntry))


def entry_hash(values: dict[str, Any], prev_hash: str) -> str:
    """SHA-256 of the entry's fields (canonical JSON) and the previous entry's hash."""
    payload = json.dumps(
        [prev_hash, *(values[name] for name in HASHED_FIELDS)], ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _fields(entry: Row[Any] | AuditEntry | dict[str, Any]) -> dict[str, Any]:
    """The hashed fields of an entry (a row, or the values about to be inserted), ``at`` as text."""
    values = {name: (entry[name] if isinstance(entry, dict) else getattr(entry, name)) for name in HASHED_FIELDS}
    values["at"] = values["at"].astimezone(dt.UTC).isoformat(timespec="microseconds")
    return values


@dataclass
class Filters:
    """What an auditor narrows the trail to; every field optional."""

    user: str | None = None
    path: str | None = None
    action: str | None = None
    outcome: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    @classmethod
    def parse(cls, args: Mapping[str, str | None], zone: dt.tzinfo) -> Filters:
        """From query arguments; dates are read as everywhere in kb (``kb.moments``, in the
        deployment's ``zone``), and one that cannot be read is a 400, not an empty answer."""

        def text_arg(name: str) -> str | None:
            value = (args.get(name) or "").strip()
            if len(value) > 256:
                raise BadRequest(f"参数 {name} 过长 (parameter {name} too long)")
            return value or None

        def date_arg(name: str, *, start: bool = False) -> dt.datetime | None:
            value = text_arg(name)
            return parse_moment(value, zone, start=start) if value else None

        return cls(
            user=text_arg("user"),
            path=text_arg("path"),
            action=text_arg("action"),
            outcome=text_arg("outcome"),
            since=date_arg("since", start=True),
            until=date_arg("until"),
        )


@dataclass
class Verification:
    ok: bool
    entries: int
    problems: list[dict[str, Any]] = field(default_factory=list)


class AuditTrail:
    """Appending, reading and verifying the trail of one instance."""

    def __init__(self, sessions: sessionmaker[Session], lock_path: Path) -> None:
        self.sessions = sessions
        self._lock = FileLock(str(lock_path), timeout=60)
        self._anchor = lock_path.with_name("audit.head")

    # ------------------------------------------------------------ writing

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose transaction may append entries; commits on success.

        The chain stays locked until the commit, so a change and its entry (a role change, say)
        land together or not at all, and no other writer can slip an entry in between. The
        commit is durable (``db.durable``): an entry is on disk before anyone is answered.
        """
        with self._lock, self.sessions() as session:
            durable(session)
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(hashtext('kb_audit_trail'))"))
            yield session
            session.commit()
            last = session.info.get("kb_audit_last")
            if last is not None:
                self._write_anchor(last)

    def _write_anchor(self, last: dict[str, Any]) -> None:
        """Record the newest entry outside the database. The entries are committed by now: a
        failure here (a full disk) must not tell the caller they were not, so it is logged, and
        the anchor is replaced whole or not at all, never left truncated; until the next append
        writes it, the anchor names an older entry, which ``verify`` accepts."""
        partial = self._anchor.with_name(self._anchor.name + ".tmp")
        try:
            partial.write_text(json.dumps(last))
            os.replace(partial, self._anchor)
        except OSError:
            log.exception("the audit anchor %s could not be updated to entry %s", self._anchor, last.get("id"))
            partial.unlink(missing_ok=True)

    def append(
        self,
        session: Session,
        who: Principal,
        action: str,
        target: str = "",
        *,
        revision: str | None = None,
        level: str | None = None,
        outcome: str = "ok",
        detail: str = "",
        at: dt.datetime | None = None,
    ) -> None:
        """Add an entry inside ``transaction()``; its hash chains it to the newest entry.
        ``at`` is when it happened (default: now): an entry recovered from git is dated by its
        commit (``kb.stores.reconcile``).

        A plain INSERT rather than an ORM object: it is on the path of every write and every
        audited read, and the ORM's unit of work would double its cost.
        """
        previous = session.execute(_NEWEST).first()
        prev_hash: str = previous.hash if previous else GENESIS
        values = {
            "id": previous.id + 1 if previous else 1,
            "at": at or utcnow(),
            "actor": who.username[:64],
            "address": who.address[:64],
            "action": action[:32],
            "target": target[:256],
            "revision": revision,
            "level": level,
            "outcome": outcome,
            "detail": detail[:MAX_DETAIL],
            "prev_hash": prev_hash,
        }
        values["hash"] = entry_hash(_fields(values), prev_hash)
        session.execute(_INSERT, values)
        session.info["kb_audit_last"] = {"id": values["id"], "hash": values["hash"]}

    def record(self, who: Principal, action: str, target: str = "", **fields: object) -> None:
        """Append one entry in a transaction of its own, committed at once: an entry must
        survive the request failing afterwards (a failed login is answered 401)."""
        with self.transaction() as session:
            self.append(session, who, action, target, **fields)  # type: ignore[arg-type]

    # ------------------------------------------------------------ reading

    def query(
        self, session: Session, user: Principal, filters: Filters, page: int = 1, per_page: int = 50
    ) -> Page[AuditEntry]:
        """A page of entries, newest first, that the auditor's clearance reaches."""
        access.require(user, "audit")
        return Page.of_query(
            session, self._select(user, filters), (AuditEntry.id.desc(),), page, per_page, MAX_PER_PAGE
        )

    def export_csv(self, user: Principal, filters: Filters) -> Iterator[str]:
        """All matching entries as CSV, oldest first, in chunks to stream.

        The access check and the export's own audit entry happen now, before the first chunk,
        so a refusal is still a proper error response; the rows are read in a session of the
        stream's own, which outlives the request's.
        """
        access.require(user, "audit")
        self.record(user, "audit_export", detail=_describe(filters))
        query = self._select(user, filters).order_by(AuditEntry.id).execution_options(yield_per=500)
        return _csv_chunks(self.sessions, query)

    def csv_about(self, user: Principal, targets: Collection[str]) -> Iterator[str]:
        """The entries about any of ``targets`` (exact document paths) that the user may read, as
        CSV, oldest first: the provenance a document export carries (the export audits itself).

        A few targets are matched in SQL; a whole knowledge base has more paths than a statement
        may carry, so those are matched as the rows stream by.
        """
        access.require(user, "audit")
        wanted = frozenset(targets)
        query = self._select(user, Filters())
        if len(wanted) <= MAX_SQL_TARGETS:
            query = query.where(AuditEntry.target.in_(sorted(wanted)))
        query = query.order_by(AuditEntry.id).execution_options(yield_per=500)
        return _csv_chunks(self.sessions, query, keep=lambda entry: entry.target in wanted)

    def failures_since(
        self, session: Session, since: dt.datetime, *, actor: str | None = None, address: str | None = None
    ) -> tuple[int, dt.datetime | None]:
        """Failed sign-ins (form or token API) since ``since`` for one account or one address:
        (count, latest)."""
        column, value = (AuditEntry.actor, actor) if actor is not None else (AuditEntry.address, address)
        count, latest = session.execute(
            select(func.count(), func.max(AuditEntry.at)).where(
                AuditEntry.action.in_(SIGN_IN_ACTIONS),
                AuditEntry.outcome == "failed",
                AuditEntry.at >= since,
                column == value,
            )
        ).one()
        return count, latest

    @staticmethod
    def _select(user: Principal, filters: Filters) -> Select[Any]:
        query = select(AuditEntry).where(
            or_(AuditEntry.level.is_(None), AuditEntry.level.in_(access.visible_levels(user)))
        )
        if filters.user:
            query = query.where(AuditEntry.actor == filters.user)
        if filters.path:
            path = filters.path.strip("/")
            query = query.where(
                or_(AuditEntry.target == path, AuditEntry.target.startswith(path + "/", autoescape=True))
            )
        if filters.action:
            query = query.where(AuditEntry.action == filters.action)
        if filters.outcome:
            query = query.where(AuditEntry.outcome == filters.outcome)
        if filters.since:
            query = query.where(AuditEntry.at >= filters.since)
        if filters.until:
            query = query.where(AuditEntry.at <= filters.until)
        return query

    # ------------------------------------------------------------ verifying

    def verify(self, session: Session) -> Verification:
        """Walk the whole chain and name every entry where it breaks.

        The anchor outside the database catches what the chain alone cannot: entries cut off
        the end, and a chain rewritten from an edited entry onwards with fresh hashes.
        """
        anchor = self._read_anchor()
        problems: list[dict[str, Any]] = []
        previous = None
        count = 0
        rows = session.execute(select(AuditEntry.__table__).order_by(AuditEntry.id).execution_options(yield_per=2000))
        for entry in rows:  # plain rows, not ORM objects: a chain of 100,000 entries is walked in seconds
            count += 1
            problems.extend(_check_link(previous, entry))
            if entry_hash(_fields(entry), entry.prev_hash) != entry.hash:
                problems.append(
                    {
                        "id": entry.id,
                        "problem": "edited",
                        "message": f"第 {entry.id} 条记录的内容与其哈希不符，已被修改 (entry {entry.id} was edited)",
                    }
                )
            elif entry.id == anchor.get("id") and entry.hash != anchor.get("hash"):
                problems.append(
                    {
                        "id": entry.id,
                        "problem": "rewritten",
                        "message": f"第 {entry.id} 条记录与库外锚点不符，记录链已被重写 "
                        f"(entry {entry.id} differs from the anchor outside the database)",
                    }
                )
            previous = entry
        last_id = previous.id if previous else 0
        if anchor.get("id", 0) > last_id:
            problems.append(
                {
                    "id": last_id + 1,
                    "problem": "removed",
                    "message": f"第 {last_id} 条之后的记录已被删除（最新记录应为第 {anchor['id']} 条）"
                    f" (entries after {last_id} removed; the newest was {anchor['id']})",
                }
            )
        return Verification(ok=not problems, entries=count, problems=problems)

    def check(self, session: Session, who: Principal) -> Verification:
        """Verify the chain and record that it was verified, by whom and with what result: the
        audit page shows the newest such entry, so the chain's state is visible on every visit
        without walking the whole chain each time."""
        result = self.verify(session)
        self.record(
            who,
            "audit_verify",
            outcome="ok" if result.ok else "failed",
            detail=f"{result.entries} entries, {len(result.problems)} problems",
        )
        return result

    @staticmethod
    def last_check(session: Session) -> tuple[AuditEntry | None, int]:
        """The newest recorded verification, and how many entries were appended after it."""
        last = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "audit_verify").order_by(AuditEntry.id.desc()).limit(1)
        ).first()
        newest = session.execute(_NEWEST).first()
        return last, (newest.id - last.id if last and newest else 0)

    def _read_anchor(self) -> dict[str, Any]:
        try:
            anchor = json.loads(self._anchor.read_text())
        except (OSError, ValueError):
            return {}
        return anchor if isinstance(anchor, dict) else {}


def _check_link(previous: Row[Any] | None, entry: Row[Any]) -> list[dict[str, Any]]:
    expected_id = previous.id + 1 if previous else 1
    expected_prev = previous.hash if previous else GENESIS
    if entry.id != expected_id:
        return [
            {
                "id": entry.id,
                "problem": "removed",
                "message": f"第 {expected_id} 至 {entry.id - 1} 条记录已被删除 "
                f"(entries {expected_id}–{entry.id - 1} removed)",
            }
        ]
    if entry.prev_hash != expected_prev:
        return [
            {
                "id": entry.id,
                "problem": "broken_link",
                "message": f"第 {entry.id} 条记录与前一条的链接断开，前一条已被替换 "
                f"(entry {entry.id} does not follow the entry before it)",
            }
        ]
    return []


def _csv_chunks(
    sessions: sessionmaker[Session], query: Select[Any], keep: Callable[[AuditEntry], bool] | None = None
) -> Iterator[str]:
    buffer = io.StringIO()
    buffer.write("\ufeff")  # a BOM, so spreadsheet programs read the Chinese as UTF-8
    writer = csv.writer(buffer)
    writer.writerow(CSV_FIELDS)
    with sessions() as session:
        for entry in session.scalars(query):
            if keep is not None and not keep(entry):
                continue
            values = _fields(entry) | {"prev_hash": entry.prev_hash, "hash": entry.hash}
            writer.writerow([_csv_safe(values[name]) for name in CSV_FIELDS])
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


def _csv_safe(value: object) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection)."""
    text_value = "" if value is None else str(value)
    return "'" + text_value if text_value[:1] in ("=", "+", "-", "@", "\t", "\r") else text_value


def _describe(filters: Filters) -> str:
    return "; ".join(f"{name}={value}" for name, value in vars(filters).items() if value is not None)
