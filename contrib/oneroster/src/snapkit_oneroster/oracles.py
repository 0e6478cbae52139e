"""The snapkit oracles over OneRoster: one per table, and the fetch summary.

A :class:`TableOracle` streams one table's normalized records, from the REST API
(:class:`~snapkit_oneroster.client.OneRosterClient`) or a CSV bulk export
(:class:`~snapkit_oneroster.bulk_csv.BulkReader`); both give the same records, so the same
district gives the same parts either way. Over REST the next page is fetched while the engine
validates and writes the current one (one page ahead, in a helper thread), so the refresh
waits on the network, not on itself.

Errors become snapkit errors whose messages come from this package (they name tables, fields,
statuses and positions, never a record's values nor a secret): transient failures that outlast
the client's own retries become :class:`snapkit.errors.TransientOracleError`, so the engine
retries the table; everything else is permanent.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from snapkit.errors import OracleError, TransientOracleError
from snapkit_oneroster.errors import (
    DeadlineExceededError,
    OneRosterError,
    RetriesExhaustedError,
    TransientHTTPError,
)
from snapkit_oneroster.normalize import iter_normalized
from snapkit_oneroster.settings import TABLE_KEYS

PREFETCH_PAGES = 2
"""Pages read ahead of the consumer."""


def default_token_url(base_url: str) -> str:
    """The token endpoint assumed when none is configured: ``/token`` at the API's host."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}/token"


def snapkit_error(exc: OneRosterError, what: str) -> OracleError:
    """The snapkit error for a failure of this package.

    The client's retries (``retry`` in ``[oracles.oneroster]``, per page, so a retry resumes
    where the read stopped) are the only retries of a table: a transient failure that
    outlasts them is permanent for the engine, which does not retry the table on top (that
    multiplied the tries: 3 x 3 per page against a dead server). A bare transient error,
    raised outside the client's retries, is still the engine's to retry.
    """
    message = f"{what}: {exc}"
    if isinstance(exc, RetriesExhaustedError):
        return OracleError(
            message, hint="raise retry.attempts in [oracles.oneroster] to try longer"
        )
    if isinstance(exc, TransientHTTPError):
        return TransientOracleError(message, retry_after=exc.retry_after)
    if isinstance(exc, DeadlineExceededError):
        return OracleError(
            message,
            hint="raise deadline in [oracles.oneroster] and "
            "timeout in [refresh] (the smaller one applies)",
        )
    return OracleError(message)


def make_client(
    settings: Mapping[str, Any], timeout: float, cancelled: threading.Event | None = None
) -> Any:
    """A :class:`~snapkit_oneroster.client.OneRosterClient` from ``[oracles.oneroster]``
    settings (secrets resolved), its per-call timeout and deadline bounded by ``timeout``
    (the engine's, which its refresh deadline bounds in turn); a wait between retries ends
    the read when ``cancelled`` is set (the engine gave up on the call)."""
    from snapkit_oneroster.client import OneRosterClient, RetryPolicy

    retry = RetryPolicy(**dict(settings.get("retry") or {}))

    def sleep(seconds: float) -> None:
        if cancelled is None:
            time.sleep(seconds)
        elif cancelled.wait(seconds):
            raise InterruptedError("the refresh stopped waiting for this table")

    options: dict[str, Any] = {
        "sleep": sleep,
        "page_size": int(settings.get("page_size", 1000)),
        "timeout": min(float(settings.get("timeout", 60.0)), timeout),
        "deadline": min(float(settings.get("deadline", 1800.0)), timeout),
        "retry": retry,
        "check_order": bool(settings.get("check_order", True)),
    }
    base_url = str(settings["base_url"])
    client_id = str(settings["client_id"])
    secret = str(settings["client_secret"])
    if settings.get("auth", "oauth2") == "oauth1":
        method = str(settings.get("signature_method", "HMAC-SHA256"))
        return OneRosterClient.oauth1(base_url, client_id, secret, method=method, **options)
    token_url = str(settings.get("token_url") or default_token_url(base_url))
    return OneRosterClient.oauth2(base_url, token_url, client_id, secret, **options)


class TableOracle:
    """Loads one table (oracle key ``key``) from the source ``settings`` describe.

    :param key: a key of :data:`~snapkit_oneroster.settings.TABLE_KEYS`.
    :param settings: the ``[oracles.oneroster]`` section, secrets resolved.
    :param root: the folder a relative CSV ``path`` is resolved against.
    """

    def __init__(self, key: str, settings: Mapping[str, Any], root: Path) -> None:
        self.key = key
        self.table = TABLE_KEYS[key]
        self.settings = dict(settings)
        self.root = Path(root)

    def load(self, call: Any) -> Iterator[dict[str, Any]]:
        """Return the table's records as a stream (see :class:`snapkit.refresh.OracleCall`)."""
        if self.settings.get("source", "rest") == "csv":
            return self._from_csv()
        return self._from_rest(call)

    def _from_csv(self) -> Iterator[dict[str, Any]]:
        from snapkit_oneroster.bulk_csv import BulkReader

        path = Path(str(self.settings["path"])).expanduser()
        if not path.is_absolute():
            path = self.root / path
        what = f"OneRoster CSV {self.table}"
        try:
            with BulkReader(path) as bulk:
                yield from bulk.iter_records(self.table)
        except OneRosterError as exc:
            raise snapkit_error(exc, what) from None
        except OSError as exc:
            raise OracleError(f"{what}: cannot read {path.name}: {exc.strerror}") from None

    def _from_rest(self, call: Any) -> Iterator[dict[str, Any]]:
        try:
            client = make_client(self.settings, call.timeout, call.cancelled)
        except OneRosterError as exc:
            raise snapkit_error(exc, f"OneRoster {self.table}") from None
        return _Prefetcher(client, self.table, call, self.key).records()


class _Prefetcher:
    """Reads pages in a helper thread, up to :data:`PREFETCH_PAGES` ahead of the consumer."""

    def __init__(self, client: Any, table: str, call: Any, key: str) -> None:
        self.client = client
        self.table = table
        self.call = call
        self.key = key
        self.pages: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=PREFETCH_PAGES)
        self.stop = threading.Event()

    def _put(self, item: tuple[str, Any]) -> bool:
        while not self.stop.is_set():
            try:
                self.pages.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            for page in self.client.iter_pages(self.table, normalize=False):
                if self.stop.is_set() or not self._put(("page", page)):
                    return
                del page  # the consumer holds the only reference
            self._put(("end", None))
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put(("error", exc))
        finally:
            self.call.report(api_calls=self.client.api_calls, retries=self.client.retries)
            self.client.close()

    def records(self) -> Iterator[dict[str, Any]]:
        thread = threading.Thread(target=self._produce, name=f"oneroster-{self.key}", daemon=True)
        thread.start()
        try:
            while True:
                try:
                    kind, value = self.pages.get(timeout=0.1)
                except queue.Empty:
                    if self.call.cancelled.is_set():
                        raise InterruptedError(f"oracle {self.key!r} was cancelled") from None
                    continue
                if kind == "end":
                    return
                if kind == "error":
                    if isinstance(value, OneRosterError):
                        raise snapkit_error(value, f"OneRoster {self.table}") from None
                    raise value
                try:
                    yield from iter_normalized(self.table, value.records, offset=value.offset)
                except OneRosterError as exc:  # a record that cannot be normalized
                    raise snapkit_error(exc, f"OneRoster {self.table}") from None
        finally:
            self.stop.set()
            thread.join(5.0)


class SummaryOracle:
    """The ``oneroster`` oracle: what the table oracles it requires fetched.

    Its payload: ``source``, record counts per table (from the parts) and their total --
    content only, so the same data gives the same snapshot id. The API calls and retries of
    each table oracle are in the manifest's ``run`` timings (``metrics``), which the id
    leaves out.
    """

    def __init__(self, source: str) -> None:
        self.source = source

    def load(self, call: Any) -> dict[str, Any]:
        """Summarize the inputs (:class:`snapkit.refresh.OracleInput` by key)."""
        tables = {
            key: int(given.result.part.records)
            for key, given in sorted(call.inputs.items())
            if given.result.part is not None
        }
        return {
            "source": self.source,
            "tables": tables,
            "records": sum(tables.values()),
        }
