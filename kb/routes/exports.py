"""Exports for archivists under /api/v1: a zip of documents with their history, manifest and
audit entries, and a git bundle of the whole content repository.

Both are built completely before the first byte is sent, so a failure is an error response,
never a half-written download.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import IO

from flask import Blueprint, Response, send_file

from kb import extensions
from kb.auth import current_user
from kb.routes.guard import checked
from kb.routes.openapi import operation
from kb.schemas.audit import ExportQuery
from kb.services import export

bp = Blueprint("exports", __name__)

HISTORY = {"all": True, "latest": False}
# a zip up to this size is built in memory, a larger one in a temporary file
SPOOL_BYTES = 16 * 1024 * 1024


@bp.get("/export")
@checked("export")
@operation({200: None}, media="application/zip")
def export_zip(query: ExportQuery) -> Response:
    """Export documents as a zip: one document (``path``), a folder (``prefix``) or everything, with
    every version (``history=all``, the default) or only the current files (``history=latest``),
    manifest.json and the audit entries about them (archivists, up to clearance; audited)."""
    stores = extensions.stores()
    # not a ``with``: the response closes it once sent
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
    try:
        export.export_zip(
            stores,
            current_user(),
            spool,
            path=query.path or None,
            prefix=query.prefix or None,
            history=HISTORY[query.history],
        )
    except BaseException:
        spool.close()
        raise
    return _attachment(spool, "application/zip", f"kb-export-{dt.datetime.now(stores.timezone):%Y%m%d-%H%M%S}.zip")


@bp.get("/export/bundle")
@checked("export")
@operation({200: None}, media="application/x-git-bundle")
def export_bundle() -> Response:
    """The content repository as a git bundle of ``main`` (archivists with the highest clearance; audited)."""
    stores = extensions.stores()
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "content.bundle"
        export.git_bundle(stores, current_user(), target)
        data = target.open("rb")  # stays readable after the folder is removed (POSIX)
    return _attachment(data, "application/x-git-bundle", f"kb-content-{dt.datetime.now(stores.timezone):%Y%m%d}.bundle")


def _attachment(data: IO[bytes], mimetype: str, name: str) -> Response:
    """Send a finished file from its start, with its length; the file is closed once sent."""
    size = data.seek(0, 2)
    data.seek(0)
    response = send_file(data, mimetype=mimetype, as_attachment=True, download_name=name)
    response.content_length = size
    return response
