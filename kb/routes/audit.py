"""The audit trail for archivists and administrators: JSON under /api/v1/audit, the /audit page,
CSV exports of both, and the chain check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, render_template, request, stream_with_context

from kb import db, extensions
from kb.auth import current_user
from kb.paging import Page
from kb.routes.guard import checked
from kb.routes.openapi import operation
from kb.routes.params import int_arg
from kb.routes.serialize import answer
from kb.schemas.audit import AuditPageQuery, AuditQuery, Entries, Verification
from kb.stores.audit import MAX_PER_PAGE, OUTCOMES, Filters

bp = Blueprint("audit", __name__)

PER_PAGE = 50


def _filters(given: Mapping[str, str | None]) -> Filters:
    """The trail's filters from the API's validated query, or the page's arguments as typed."""
    return Filters.parse(given, extensions.stores().timezone)


def _entries(filters: Filters, page: int, per_page: int) -> Page[Any]:
    return extensions.stores().audit.query(db.session(), current_user(), filters, page, per_page)


def _csv(filters: Filters) -> Response:
    chunks = extensions.stores().audit.export_csv(current_user(), filters)
    return Response(
        stream_with_context(chunks),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": "attachment; filename=kb-audit.csv"},
    )


@bp.get("/api/v1/audit")
@checked("audit")
@operation({200: Entries})
def api_entries(query: AuditPageQuery) -> tuple[Response, int]:
    """Audit entries, newest first (archivists, up to their clearance)."""
    return answer(Entries, _entries(_filters(query.model_dump()), query.page, query.per_page))


@bp.get("/api/v1/audit/export")
@checked("audit")
@operation({200: None}, media="text/csv")
def api_export(query: AuditQuery) -> Response:
    """Audit entries as CSV, oldest first (audited)."""
    return _csv(_filters(query.model_dump()))


@bp.get("/api/v1/audit/verify")
@checked("audit")
@operation({200: Verification})
def api_verify() -> tuple[Response, int]:
    """Check the audit trail's hash chain."""
    return answer(Verification, extensions.stores().audit.check(db.session(), current_user()))


@bp.get("/audit")
@checked("audit")
def page() -> str:
    trail = extensions.stores().audit
    # the check walks the whole chain, so it runs when asked for; otherwise the page shows the
    # newest recorded check
    verification = trail.check(db.session(), current_user()) if request.args.get("verify") else None
    filters = _filters(request.args)
    found = _entries(filters, int_arg("page", 1, 1), int_arg("per_page", PER_PAGE, 1, MAX_PER_PAGE))
    last_check, entries_since = trail.last_check(db.session())
    return render_template(
        "audit.html",
        filters=filters,
        page=found.page,
        per_page=found.per_page,
        total=found.total,
        rows=found.items,
        verification=verification,
        last_check=last_check,
        entries_since=entries_since,
        outcomes=OUTCOMES,
    )


@bp.get("/audit/export")
@checked("audit")
def export() -> Response:
    return _csv(_filters(request.args))
