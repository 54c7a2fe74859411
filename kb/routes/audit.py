"""The audit trail for archivists and administrators: JSON under /api/v1/audit, the /audit page,
CSV exports of both, and the chain check."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template, request, stream_with_context

from kb import db, extensions
from kb.auth import current_user
from kb.models import AuditEntry
from kb.routes.guard import checked
from kb.routes.openapi import operation
from kb.routes.params import int_arg
from kb.schemas.audit import AuditPageQuery, AuditQuery, Entries, Verification
from kb.stores.audit import CSV_FIELDS, OUTCOMES, Filters

bp = Blueprint("audit", __name__)

PER_PAGE = 50


def entry_json(entry: AuditEntry) -> dict:
    return {name: getattr(entry, name) for name in CSV_FIELDS} | {"at": entry.at.isoformat()}


def _filters() -> Filters:
    return Filters.parse(request.args, extensions.stores().timezone)


def _page() -> tuple[Filters, int, int, int, list[AuditEntry]]:
    filters = _filters()
    page, per_page = int_arg("page", 1, 1), int_arg("per_page", PER_PAGE, 1, 500)
    total, rows = extensions.stores().audit.query(db.session(), current_user(), filters, page, per_page)
    return filters, page, per_page, total, rows


def _csv() -> Response:
    chunks = extensions.stores().audit.export_csv(current_user(), _filters())
    return Response(
        stream_with_context(chunks),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": "attachment; filename=kb-audit.csv"},
    )


@bp.get("/api/v1/audit")
@checked("audit")
@operation({200: Entries})
def api_entries(query: AuditPageQuery) -> Response:
    """Audit entries, newest first (archivists, up to their clearance)."""
    _filters, page, per_page, total, rows = _page()
    return jsonify(total=total, page=page, per_page=per_page, entries=[entry_json(entry) for entry in rows])


@bp.get("/api/v1/audit/export")
@checked("audit")
@operation({200: None}, media="text/csv")
def api_export(query: AuditQuery) -> Response:
    """Audit entries as CSV, oldest first (audited)."""
    return _csv()


@bp.get("/api/v1/audit/verify")
@checked("audit")
@operation({200: Verification})
def api_verify() -> Response:
    """Check the audit trail's hash chain."""
    result = extensions.stores().audit.check(db.session(), current_user())
    return jsonify(ok=result.ok, entries=result.entries, problems=result.problems)


@bp.get("/audit")
@checked("audit")
def page() -> str:
    trail = extensions.stores().audit
    # the check walks the whole chain, so it runs when asked for; otherwise the page shows the
    # newest recorded check
    verification = trail.check(db.session(), current_user()) if request.args.get("verify") else None
    filters, page_number, per_page, total, rows = _page()
    last_check, entries_since = trail.last_check(db.session())
    return render_template(
        "audit.html",
        filters=filters,
        page=page_number,
        per_page=per_page,
        total=total,
        rows=rows,
        verification=verification,
        last_check=last_check,
        entries_since=entries_since,
        outcomes=OUTCOMES,
    )


@bp.get("/audit/export")
@checked("audit")
def export() -> Response:
    return _csv()
