"""The snapkit oracles: the collector, one record oracle per table, and the summary.

One refresh fetches every export once. ``tm_metadata`` (the collector) fetches, checks and
normalizes all of them and returns the metadata as its payload; it hands the tables to the
table oracles of the same refresh through :data:`HANDOFF`, keyed by the refresh's request
token (the engine runs all oracles of a refresh in one process). The table oracles
(``tm_districts``, ..., each requiring ``tm_metadata``) stream their table's rows into a part;
``toastmasters`` requires them all, records how many rows each wrote and releases the handoff.
The handoff keeps at most :data:`KEPT_RUNS` refreshes, so a refresh that fails half way
leaves nothing behind for long.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from snapkit.contracts import utc_now
from snapkit.errors import OracleError
from snapkit_toastmasters.collect import Collected, Request, baseline_of, collect

KEPT_RUNS = 4
"""Refreshes whose collected tables the handoff keeps at once."""


class Handoff:
    """Collected tables by request token, for the table oracles of the same refresh."""

    def __init__(self, keep: int = KEPT_RUNS) -> None:
        self.keep = keep
        self._runs: OrderedDict[str, Collected] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, token: str, collected: Collected) -> None:
        with self._lock:
            self._runs[token] = collected
            self._runs.move_to_end(token)
            while len(self._runs) > self.keep:
                self._runs.popitem(last=False)

    def get(self, token: str) -> Collected | None:
        with self._lock:
            return self._runs.get(token)

    def release(self, token: str) -> None:
        with self._lock:
            self._runs.pop(token, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._runs)


HANDOFF = Handoff()
"""The process's handoff between the collector and the table oracles."""


class MetadataOracle:
    """``tm_metadata``: collects every export of the configured districts.

    Unless ``check_as_of = false``, a district's data must not be older than in the current
    snapshot: the engine hands the current snapshot's ``tm_metadata`` payload to ``load`` as
    ``call.previous`` (``None`` on a first refresh), whose districts' as-of dates are the
    baseline.

    :param settings: the ``[oracles.toastmasters]`` section.
    :param transport: an httpx transport for tests.
    """

    def __init__(
        self, settings: Mapping[str, Any], *, transport: Any = None, handoff: Handoff = HANDOFF
    ) -> None:
        self.settings = dict(settings)
        self.transport = transport
        self.handoff = handoff

    def load(self, call: Any) -> dict[str, Any]:
        """Fetch, check and normalize; hand the tables over; return the metadata."""
        from snapkit_toastmasters.fetch import HttpFetcher

        request = Request.from_settings(self.settings)
        check = call.previous is not None and self.settings.get("check_as_of", True)
        baseline = baseline_of(call.previous.payload) if check else None
        timeout = min(float(self.settings.get("timeout", 60.0)), float(call.timeout))
        fetched_at = utc_now()
        with HttpFetcher(timeout, transport=self.transport) as fetcher:
            try:
                collected = collect(request, fetcher, baseline=baseline, cancelled=call.cancelled)
            finally:
                call.report(requests=fetcher.requests, fetched_at=fetched_at)
        self.handoff.put(call.request_token, collected)
        return dict(collected.metadata)


class TableOracle:
    """One table's rows, from what ``tm_metadata`` collected in the same refresh."""

    def __init__(self, table: str, handoff: Handoff = HANDOFF) -> None:
        self.table = table
        self.handoff = handoff

    def load(self, call: Any) -> Iterator[dict[str, Any]]:
        collected = self.handoff.get(call.request_token)
        if collected is None:
            raise OracleError(
                f"table {self.table!r}: the collected exports of this refresh are gone",
                hint="run the refresh again",
            )
        return iter(collected.tables[self.table])


class SummaryOracle:
    """``toastmasters``: the rows each table oracle wrote; releases the handoff."""

    def __init__(self, handoff: Handoff = HANDOFF) -> None:
        self.handoff = handoff

    def load(self, call: Any) -> dict[str, Any]:
        self.handoff.release(call.request_token)
        tables = {
            given.result.part.name: int(given.result.part.records)
            for _key, given in sorted(call.inputs.items())
            if given.result.part is not None
        }
        return {"tables": dict(sorted(tables.items())), "records": sum(tables.values())}
