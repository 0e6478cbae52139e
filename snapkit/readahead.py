"""Read-ahead: take the next blocks of a stream in a second thread while the caller works on
the current one.

A store decompresses a part's frames (and hashes them) in C code that releases the GIL, and
a scan looks for its needle in each block in C code that holds it; run one after the other
they add up. :func:`read_ahead` runs the stream's ``next()`` in one worker thread, at most
``depth`` blocks ahead, so the two overlap on two cores. Nothing process-wide changes: the
thread belongs to the generator, stops when the stream ends, fails or the generator is
closed, and errors reach the caller in order, where the block would have been. Measured in
``bench/search.py``.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Generator, Iterator

DEPTH = 2
"""Blocks read ahead at most (about 1 MiB each for the file store: memory stays bounded)."""

_END = object()


def read_ahead(blocks: Iterator[bytes], depth: int = DEPTH) -> Generator[bytes, None, None]:
    """Yield ``blocks``' items, the next ones read in a worker thread up to ``depth`` ahead.

    Closing the generator early stops the worker (after the block it is reading) and closes
    ``blocks`` if it is a generator, in the worker's thread.
    """
    handoff: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for block in blocks:
                if stop.is_set():
                    break
                handoff.put(block)
                if stop.is_set():
                    break
            else:
                handoff.put(_END)
        except BaseException as exc:  # handed to the caller, who raises it
            handoff.put(exc)
        finally:
            close = getattr(blocks, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=work, name="snapkit-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while worker.is_alive():  # unblock a worker waiting to hand over a block
            with contextlib.suppress(queue.Empty):
                handoff.get(timeout=0.05)
        worker.join()
