"""Whoosh's multiprocessing writer, made to fail loudly instead of hanging.

Rebuilding 10,000 documents is mostly analysis and posting bookkeeping in pure Python, so it
runs in one worker process per CPU, each writing its own segment (``multisegment``: merging
them would cost more than searching a few segments). Whoosh's ``MpWriter`` blocks forever on
its job queue when a worker dies, and silently drops that worker's segment at commit; this
subclass waits with timeouts, checks the workers are alive, and raises. The caller also
compares the document count after the commit.
"""

from __future__ import annotations

import gc
import pickle
import queue
import time
from collections.abc import Callable
from typing import Any

from whoosh.codec.base import Segment
from whoosh.index import FileIndex
from whoosh.multiproc import MpWriter, SubWriterTask
from whoosh.writing import SegmentWriter

from kb.search.codec import random_name
from kb.search.pool import KBSegmentWriter

_POLL = 0.5


class WorkerFailed(RuntimeError):
    """A worker process of a parallel rebuild exited without finishing its segment."""


class _Task(SubWriterTask):
    """A worker: indexes the job files it is given into one segment of its own."""

    def run(self) -> None:
        # Millions of small tuples and no cycles: the cyclic GC would only rescan them.
        gc.disable()
        ix = self.storage.open_index(self.indexname)
        writer = self.writer = KBSegmentWriter(ix, _lk=False, **self.kwargs)
        while True:
            job = self.jobqueue.get()
            if job is None:
                break
            self._process_file(*job)
        segment = writer._finalize_segment()
        self.resultqueue.put((None, writer.pool.fieldnames, segment))


class SafeMpWriter(MpWriter):
    docbuffer: list[tuple[int, dict[str, Any]]]  # Whoosh's: (0 = add_document, fields) per buffered document

    def __init__(self, ix: FileIndex, **kwargs: Any) -> None:
        super().__init__(ix, **kwargs)
        if not self.multisegment:
            raise ValueError("SafeMpWriter only supports multisegment=True")

    def _new_task(self) -> _Task:
        task = _Task(self.storage, self.indexname, self.jobqueue, self.resultqueue, self.subargs, self.multisegment)
        self.tasks.append(task)
        task.start()
        return task

    def _check_workers(self) -> None:
        for task in self.tasks:
            if task.exitcode not in (None, 0):
                raise WorkerFailed(f"index worker exited with code {task.exitcode}")

    def _put(self, item: object) -> None:
        while True:
            self._check_workers()
            try:
                self.jobqueue.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue

    def _enqueue(self) -> None:
        # MpWriter._enqueue, with a put that notices a dead worker.
        filename = f"{random_name()}.doclist"
        with self.temp_storage().create_file(filename).raw_file() as f:
            for item in self.docbuffer:
                pickle.dump(item, f, 2)
        if len(self.tasks) < self.procs:
            self._new_task()
        self._put((filename, len(self.docbuffer)))
        self.docbuffer = []

    def _commit(
        self,
        mergetype: Callable[[SegmentWriter, list[Segment]], list[Segment]] | None,
        optimize: bool | None,
        merge: bool | None,
    ) -> None:
        if self.docbuffer:
            self._enqueue()
        for _ in self.tasks:
            self._put(None)
        finalsegments = self._merge_segments(mergetype, optimize, merge)
        results = []
        for _ in self.tasks:
            while True:
                try:
                    results.append(self.resultqueue.get(timeout=_POLL))
                    break
                except queue.Empty:
                    self._check_workers()
                    if all(t.exitcode is not None for t in self.tasks) and self.resultqueue.empty():
                        time.sleep(_POLL)  # a result may still be in flight from a clean exit
                        if self.resultqueue.empty():
                            raise WorkerFailed("an index worker finished without a segment") from None
        for task in self.tasks:
            task.join()
        finalsegments += [segment for _, _, segment in results]
        if self._added:
            finalsegments.append(self._finalize_segment())
        else:
            self._close_segment()
        self._commit_toc(finalsegments)
        self._finish()

    def cancel(self) -> None:
        """Stop the workers *before* the temporary storage they write into is destroyed
        (Whoosh destroys it first, and a worker still writing a file makes that fail)."""
        try:
            for task in self.tasks:
                if task.is_alive():
                    task.terminate()
                    task.join(timeout=5)
        finally:
            SegmentWriter.cancel(self)
