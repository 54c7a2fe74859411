"""Full-text search over the documents: a Whoosh index that is a rebuildable cache of git.

The services call ``SearchIndex.apply`` after every commit, ``indexed_commit`` at start-up to
catch up, and ``rebuild`` from ``kb reindex``. Nothing here imports git or Flask.
"""

from kb.search.index import SearchIndex
from kb.search.model import Hit, IndexedDoc, SearchResult

__all__ = ["Hit", "IndexedDoc", "SearchIndex", "SearchResult"]
