"""Dates and times as people type them into kb (``?at=``, date pickers, filters).

One reading everywhere, so the as-of view, the archive filters and the audit filters agree on
what "2026-10-01" means: a bare date is the whole of that day (its end, or its start for the
lower end of a range), and a time without an offset is in the deployment's zone
(``KB_TIMEZONE``), not the server's.
"""

from __future__ import annotations

import datetime as dt

from kb.errors import BadRequest


def parse_moment(value: object, zone: dt.tzinfo, *, start: bool = False) -> dt.datetime:
    """An ISO 8601 date or date-time as an aware datetime; anything else is a 400."""
    text = str(value).strip()
    try:
        if len(text) == 10:
            when = dt.datetime.combine(dt.date.fromisoformat(text), dt.time.min if start else dt.time.max)
        else:
            when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(
            f"无法识别的日期“{text[:40]}”，请用 ISO 8601 格式，如 2026-10-01 或 2026-10-01T09:30 (invalid date)"
        ) from exc
    return when if when.tzinfo else when.replace(tzinfo=zone)
