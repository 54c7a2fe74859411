"""kb's own exceptions.

Services and the store raise these and never call ``abort``, ``flash`` or ``redirect``;
one error handler (``kb.routes.errors``) maps them to a status code and renders JSON or HTML
depending on what the client accepts. ``message`` is user-facing; ``code`` is stable for clients.
"""

from __future__ import annotations

from typing import Any


class KBError(Exception):
    """Base of every error kb reports to a user."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadRequest(KBError):
    status = 400
    code = "bad_request"


class InvalidPath(BadRequest):
    code = "invalid_path"


class InvalidFileName(InvalidPath):
    """An attachment's name that is no safe path segment (``kb.docpath.validate_file_name``)."""

    code = "invalid_file_name"


class InvalidRevision(BadRequest):
    code = "invalid_revision"


class InvalidDocument(BadRequest):
    """Malformed front matter, invalid UTF-8 or a missing required field."""

    code = "invalid_document"


class UnreadableFile(BadRequest):
    """A file to convert is not what its name says (a .docx that is no Word document, an .html
    that is not text) or is corrupt: nothing of it was converted."""

    code = "unreadable_file"


class Unauthorized(KBError):
    status = 401
    code = "unauthorized"


class Forbidden(KBError):
    status = 403
    code = "forbidden"


class ReviewRequired(Forbidden):
    """The deployment publishes only reviewed drafts (``KB_REQUIRE_REVIEW``)."""

    code = "review_required"


class NotFound(KBError):
    status = 404
    code = "not_found"


class Moved(KBError):
    """The document was moved; ``details["location"]`` is its path now. Reads are redirected
    there, so old links and bookmarks keep working."""

    status = 302  # not 301: browsers would cache it, and a new document may take the old path
    code = "moved"


class Conflict(KBError):
    """A save based on a stale revision whose edits overlap the newer ones."""

    status = 409
    code = "conflict"


class TooLarge(KBError):
    status = 413
    code = "too_large"


class UnsupportedMediaType(KBError):
    """A file whose bytes are none of the allowed types (``kb.files.types``), whatever its name says."""

    status = 415
    code = "unsupported_media_type"


class TooManyRequests(KBError):
    """Too many failed sign-ins; ``details["retry_after"]`` says how many seconds to wait."""

    status = 429
    code = "too_many_requests"


class SchemaError(KBError):
    """The database's schema is not the one this code expects (behind or ahead of its
    migrations); the message names ``kb migrate``."""

    status = 503
    code = "schema_mismatch"


class InsufficientStorage(KBError):
    """The disk is full (ENOSPC): nothing of the change was committed, so it may be retried
    once space is freed."""

    status = 507
    code = "insufficient_storage"

    def __init__(
        self,
        message: str = "存储空间不足，未保存任何更改，请释放空间后重试 (insufficient storage: nothing was saved)",
        **details: Any,
    ) -> None:
        super().__init__(message, **details)
