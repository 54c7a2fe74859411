"""The wall time kb writes down: commit times, archive and export stamps, the tables' creation
and expiry times.

One function, looked up at each call (``clock.now()``), so a test can move time forward instead
of sleeping past git's one-second resolution (the suite's ``clock`` fixture). Durations and
timeouts use ``time.monotonic`` and do not come from here.
"""

from __future__ import annotations

import datetime as dt


def now() -> dt.datetime:
    """The current time, aware, in UTC."""
    return dt.datetime.now(dt.UTC)
