"""Scoring every match exactly once, inside the visibility mask, with a recency tie-break.

Whoosh's own collectors either skip low-scoring blocks (then the total is only an estimate,
and counting it means running the query again) or sort by a facet for every match. Here one
pass over the matcher does both jobs: it counts every visible match for an exact total and
keeps the best ``k`` in a heap ordered by (score, updated_at, -docnum). Documents outside the
mask are never scored, counted or returned, so what a caller may not see cannot leak through
totals, pages or snippets.
"""

from __future__ import annotations

import heapq
from collections.abc import Container
from dataclasses import dataclass

from whoosh.query import Query
from whoosh.searching import Searcher


@dataclass
class Collected:
    total: int
    top: list[tuple[float, int]]  # (score, global docnum), best first


def collect(searcher: Searcher, q: Query, mask: Container[int], k: int) -> Collected:
    """Count the matches of ``q`` whose docnum is in ``mask``; return the best ``k``."""
    context = searcher.context(needs_current=True)
    column = searcher.reader().column_reader("updated_ts") if k else None
    heap: list[tuple[float, int, int]] = []
    total = 0
    for sub, offset in searcher.leaf_searchers():
        m = q.matcher(sub, context)
        while m.is_active():
            docnum = offset + m.id()
            if docnum in mask:
                total += 1
                if k:
                    score = m.score()
                    if len(heap) < k:
                        heapq.heappush(heap, (score, column[docnum], -docnum))
                    elif score >= heap[0][0]:
                        item = (score, column[docnum], -docnum)
                        if item > heap[0]:
                            heapq.heapreplace(heap, item)
            m.next()
    heap.sort(reverse=True)
    return Collected(total, [(score, -neg) for score, _, neg in heap])
