"""A OneRoster 1.1 REST client that reads whole collections, page by page.

::

    client = OneRosterClient.oauth2(base_url, token_url, client_id, client_secret)
    with client:
        for user in client.iter_records("users"):
            ...

:meth:`OneRosterClient.iter_records` pages with ``limit``/``offset`` and ``sort=sourcedId``
until every record is read, checks the count against ``X-Total-Count`` when the server sends
it, and never filters by role on the server (``students`` and ``teachers`` are read through
``users`` and picked here), which avoids the role-filter cap some providers have. Transient
failures (429, 5xx, timeouts, dropped connections) are retried with exponential backoff and
jitter, honouring ``Retry-After``; each call has a timeout and the whole read a deadline.
Records are normalized by :func:`~snapkit_oneroster.normalize.normalize_record`, the same
function the CSV bulk reader uses. Memory holds one page at a time.
"""

from __future__ import annotations

import email.utils
import itertools
import logging
import operator
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

import attrs
import httpx
import tenacity

from snapkit_oneroster.auth import OAuth1Signature, OAuth2ClientCredentials
from snapkit_oneroster.errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    DeadlineExceededError,
    MissingEnvelopeError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    RecordCountMismatchError,
    RequestRejectedError,
    RetriesExhaustedError,
    ServerError,
    TransientHTTPError,
    TruncatedResponseError,
)
from snapkit_oneroster.normalize import normalize_record, normalize_records
from snapkit_oneroster.schema import COLLECTIONS, TABLES, Collection, Table

log = logging.getLogger(__name__)

_loads: Callable[[bytes | str], Any]
try:  # the optional accelerator (pip install 'snapkit-oneroster[fast]'): same values, faster
    from orjson import loads as _orjson_loads

    _loads = _orjson_loads
except ImportError:  # pragma: no cover - exercised where orjson is not installed
    from json import loads as _json_loads

    _loads = _json_loads

DEFAULT_TIMEOUT = 60.0
"""Seconds one HTTP call may take."""

DEFAULT_DEADLINE = 30 * 60.0
"""Seconds reading one collection may take, retries and waits included."""


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How transient failures are retried.

    :param attempts: attempts per request, the first included.
    :param initial: the first backoff, in seconds; it doubles per attempt.
    :param maximum: the largest backoff, in seconds.
    :param jitter: up to this many random seconds added to each backoff.
    :param max_retry_after: the longest ``Retry-After`` honoured, in seconds.
    """

    attempts: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    initial: float = attrs.field(default=1.0, validator=attrs.validators.ge(0))
    maximum: float = attrs.field(default=30.0, validator=attrs.validators.ge(0))
    jitter: float = attrs.field(default=1.0, validator=attrs.validators.ge(0))
    max_retry_after: float = attrs.field(default=120.0, validator=attrs.validators.ge(0))


@attrs.frozen
class Page:
    """One page of a collection.

    :ivar collection: the collection read.
    :ivar offset: the offset the page was asked at.
    :ivar records: the page's records (normalized unless asked otherwise); for ``students``
        and ``teachers``, only the users with that role.
    :ivar received: how many records the server sent in this page.
    :ivar total: the ``X-Total-Count`` the server sent, if it did.
    """

    collection: str
    offset: int
    records: list[dict[str, Any]]
    received: int
    total: int | None


class Deadline:
    """A point in time after which no more work starts."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        """Seconds left (never negative)."""
        return max(0.0, self._end - self._clock())

    def check(self, what: str) -> float:
        """The seconds left; raises :class:`DeadlineExceededError` when none are."""
        left = self.remaining()
        if left <= 0:
            raise DeadlineExceededError(
                f"{what}: the deadline of {self.seconds:g} s passed before every record was "
                "read; raise the deadline or check why the server is slow"
            )
        return left


class OneRosterClient:
    """Reads OneRoster 1.1 collections over REST.

    :param base_url: the API root, e.g. ``https://host/ims/oneroster/v1p1``.
    :param auth: an ``httpx.Auth`` such as :class:`OAuth2ClientCredentials` or
        :class:`OAuth1Signature` (see :meth:`oauth2` and :meth:`oauth1`).
    :param page_size: the ``limit`` asked per page.
    :param timeout: seconds one HTTP call may take.
    :param deadline: seconds one :meth:`iter_records` may take in all.
    :param retry: the retry policy for transient failures.
    :param check_order: check that pages come in strictly ascending sourcedId order (this
        catches overlapping or skipped pages); turn off for a server whose collation differs.
    :param transport: an ``httpx`` transport, for tests.
    :param sleep: the function that waits between attempts, for tests.
    """

    def __init__(
        self,
        base_url: str,
        auth: httpx.Auth,
        *,
        page_size: int = 1000,
        timeout: float = DEFAULT_TIMEOUT,
        deadline: float = DEFAULT_DEADLINE,
        retry: RetryPolicy | None = None,
        check_order: bool = True,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigurationError("base_url must be an http:// or https:// URL")
        if page_size < 1:
            raise ConfigurationError("page_size must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.timeout = timeout
        self.deadline = deadline
        self.retry = retry or RetryPolicy()
        self.check_order = check_order
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url + "/",
            auth=auth,
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "snapkit-oneroster"},
        )
        self.api_calls = 0
        self.retries = 0

    @classmethod
    def oauth2(
        cls, base_url: str, token_url: str, client_id: str, client_secret: str, **kwargs: Any
    ) -> OneRosterClient:
        """A client that authenticates with OAuth 2.0 client credentials."""
        auth = OAuth2ClientCredentials(
            token_url, client_id, client_secret, timeout=kwargs.get("timeout", DEFAULT_TIMEOUT)
        )
        return cls(base_url, auth, **kwargs)

    @classmethod
    def oauth1(
        cls,
        base_url: str,
        consumer_key: str,
        consumer_secret: str,
        *,
        method: str = "HMAC-SHA256",
        **kwargs: Any,
    ) -> OneRosterClient:
        """A client that signs requests with OAuth 1.0a (``HMAC-SHA256`` or ``HMAC-SHA1``)."""
        return cls(base_url, OAuth1Signature(consumer_key, consumer_secret, method), **kwargs)

    # ------------------------------------------------------------------ reading

    def iter_records(self, collection: str, *, normalize: bool = True) -> Iterator[dict[str, Any]]:
        """Every record of a collection, in sourcedId order.

        :param collection: a collection name (``users``, ``students``, ``orgs``, ...).
        :param normalize: normalize records (default); ``False`` yields them as sent.
        :raises OneRosterError: a subclass saying what went wrong.
        """
        for page in self.iter_pages(collection, normalize=normalize):
            yield from page.records

    def iter_pages(self, collection: str, *, normalize: bool = True) -> Iterator[Page]:
        """Every page of a collection, in sourcedId order (see :meth:`iter_records`)."""
        coll = _collection(collection)
        t = TABLES[coll.table]
        path = t.name if coll.role else coll.name
        deadline = Deadline(self.deadline)
        offset = 0
        announced: int | None = None
        last_id: str | None = None
        pages = 0
        while True:
            params = {"limit": str(self.page_size), "offset": str(offset), "sort": "sourcedId"}
            try:
                body, headers = self._get(path, params, deadline)
            except DeadlineExceededError as exc:
                if not pages:
                    raise
                told = (
                    f"of {announced} announced"
                    if announced is not None
                    else ("and no X-Total-Count")
                )
                raise DeadlineExceededError(
                    f"{path}: the deadline of {deadline.seconds:g} s passed after {pages} "
                    f"pages ({offset} records {told}) while the server still sent full pages; "
                    "it may be paging without end (a server that ignores offset), or the "
                    "collection is too big to read within the deadline: raise it"
                ) from exc
            pages += 1
            raw = _envelope(body, t, path)
            total = _total_count(headers, path)
            if total is not None:
                if announced is None:
                    announced = total
                elif total != announced:
                    raise RecordCountMismatchError(
                        f"{path}: X-Total-Count changed from {announced} to {total} while "
                        "paging; the data changed during the read; run the read again"
                    )
            last_id = self._check_order(path, raw, offset, last_id)
            records = raw
            if coll.role:
                records = [r for r in raw if r.get("role") in coll.role]
            if normalize:
                records = normalize_records(t, records, offset=offset)
            yield Page(collection, offset, records, len(raw), total)
            offset += len(raw)
            if not raw:
                break
            if announced is not None:
                if offset >= announced:
                    break
                continue  # a short page with more announced: the server caps the page size
            if len(raw) < self.page_size:
                break
        if announced is not None and offset != announced:
            raise RecordCountMismatchError(
                f"{path}: read {offset} records but the server announced {announced} in "
                "X-Total-Count; the server lost or repeated records while paging; run the read "
                "again, and report it to the provider if it persists"
            )

    def get_record(
        self, collection: str, sourced_id: str, *, normalize: bool = True
    ) -> dict[str, Any]:
        """One record by sourcedId.

        :raises NotFoundError: when the server does not know it.
        """
        coll = _collection(collection)
        t = TABLES[coll.table]
        path = f"{coll.name}/{sourced_id}"
        body, _ = self._get(path, {}, Deadline(self.deadline))
        if not isinstance(body, dict) or not isinstance(body.get(t.one), dict):
            raise MissingEnvelopeError(
                f"GET {coll.name}/{{id}}: the 200 response has no {t.one!r} object; "
                "check that base_url is the OneRoster 1.1 API root"
            )
        record: dict[str, Any] = body[t.one]
        return normalize_record(t, record) if normalize else record

    def _check_order(
        self, path: str, raw: list[dict[str, Any]], offset: int, last_id: str | None
    ) -> str | None:
        if not raw:
            return last_id
        ids: list[Any] = list(map(dict.get, raw, itertools.repeat("sourcedId")))
        if all(map(str.__instancecheck__, ids)) and (
            not self.check_order
            or (
                (last_id is None or last_id < ids[0])
                and all(map(operator.lt, ids, itertools.islice(ids, 1, None)))
            )
        ):
            last: str = ids[-1]
            return last
        # something is wrong: find the first record at fault, to say which
        for i, record in enumerate(raw):
            sourced_id = record.get("sourcedId")
            if not isinstance(sourced_id, str):
                raise ProtocolError(
                    f"{path}: the record at position {offset + i} has no sourcedId string"
                )
            if self.check_order and last_id is not None and sourced_id <= last_id:
                raise ProtocolError(
                    f"{path}: the record at position {offset + i} is out of sourcedId order "
                    "(a repeated or shifted page); run the read again, or pass "
                    "check_order=False if the server sorts with another collation"
                )
            last_id = sourced_id
        return last_id

    # ------------------------------------------------------------------ HTTP

    def _get(
        self, path: str, params: dict[str, str], deadline: Deadline
    ) -> tuple[Any, httpx.Headers]:
        policy = self.retry
        backoff = tenacity.wait_exponential(
            multiplier=policy.initial, max=policy.maximum
        ) + tenacity.wait_random(0, policy.jitter)

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            retry_after = getattr(exc, "retry_after", None)
            if retry_after is not None:
                return min(float(retry_after), policy.max_retry_after)
            return float(backoff(state))

        def before_sleep(state: tenacity.RetryCallState) -> None:
            self.retries += 1
            exc = state.outcome.exception() if state.outcome else None
            log.info(
                "GET %s failed (%s); attempt %d of %d in %.1f s",
                path,
                type(exc).__name__,
                state.attempt_number + 1,
                policy.attempts,
                state.upcoming_sleep,
            )

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(TransientHTTPError),
            stop=tenacity.stop_any(tenacity.stop_after_attempt(policy.attempts), _StopAt(deadline)),
            wait=wait,
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=False,
        )
        try:
            return retrying(self._get_once, path, params, deadline)
        except tenacity.RetryError as exc:
            last = exc.last_attempt.exception()
            assert isinstance(last, TransientHTTPError)
            attempts = exc.last_attempt.attempt_number
            if attempts < policy.attempts:
                raise DeadlineExceededError(
                    f"GET {path}: {last}; no time left to retry within the deadline of "
                    f"{deadline.seconds:g} s; raise the deadline or retry later"
                ) from last
            raise RetriesExhaustedError(
                f"GET {path}: gave up after {attempts} attempts; last failure: {last}",
                last_error=last,
                attempts=attempts,
            ) from last

    def _get_once(
        self, path: str, params: dict[str, str], deadline: Deadline
    ) -> tuple[Any, httpx.Headers]:
        left = deadline.check(f"GET {path}")
        timeout = min(self.timeout, left)
        self.api_calls += 1
        try:
            response = self._http.get(path, params=params, timeout=timeout)
        except httpx.TimeoutException as exc:
            if left < self.timeout:  # the deadline, not the per-call timeout, cut it short
                raise DeadlineExceededError(
                    f"GET {path}: the deadline of {deadline.seconds:g} s passed while waiting "
                    "for an answer; raise the deadline or check why the server is slow"
                ) from exc
            raise ConnectionFailedError(
                f"GET {path}: no answer within {timeout:g} s; the server is slow or down"
            ) from exc
        except httpx.RemoteProtocolError as exc:
            raise TruncatedResponseError(
                f"GET {path}: the server closed the connection before the whole response arrived"
            ) from exc
        except httpx.TransportError as exc:
            raise ConnectionFailedError(
                f"GET {path}: the connection failed ({type(exc).__name__}); check the URL "
                "and the network"
            ) from exc
        log.debug("GET %s offset=%s -> %d", path, params.get("offset"), response.status_code)
        _raise_for_status(response, path)
        try:
            return _loads(response.content), response.headers
        except ValueError:
            raise ProtocolError(
                f"GET {path}: the 200 response body is not valid JSON; the server or a proxy "
                "sent something else; retry later, and report it if it persists"
            ) from None

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def __enter__(self) -> OneRosterClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _StopAt(tenacity.stop.stop_base):
    """Stop retrying when the next wait would run past the deadline."""

    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        return (retry_state.upcoming_sleep or 0.0) >= self.deadline.remaining()


def _collection(name: str) -> Collection:
    try:
        return COLLECTIONS[name]
    except KeyError:
        known = ", ".join(COLLECTIONS)
        raise ConfigurationError(f"unknown OneRoster collection {name!r}; known: {known}") from None


def _envelope(body: Any, t: Table, path: str) -> list[dict[str, Any]]:
    records = body.get(t.many) if isinstance(body, dict) else None
    if not isinstance(records, list) or not all(map(dict.__instancecheck__, records)):
        keys = ", ".join(sorted(body)) if isinstance(body, dict) else type(body).__name__
        raise MissingEnvelopeError(
            f"GET {path}: the 200 response has no {t.many!r} list of records (got: {keys}); "
            "check that base_url is the OneRoster 1.1 API root"
        )
    return records


def _total_count(headers: httpx.Headers, path: str) -> int | None:
    value = headers.get("X-Total-Count")
    if value is None:
        return None
    try:
        total = int(value)
    except ValueError:
        raise ProtocolError(f"GET {path}: X-Total-Count is not an integer") from None
    if total < 0:
        raise ProtocolError(f"GET {path}: X-Total-Count is negative")
    return total


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _description(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    text = body.get("imsx_description") if isinstance(body, dict) else None
    return f" ({str(text)[:200]})" if text else ""


def _raise_for_status(response: httpx.Response, path: str) -> None:
    status = response.status_code
    if status < 300:
        return
    response.read()
    if status in (401, 403):
        raise AuthenticationError(
            f"GET {path}: the server refused the credentials (HTTP {status})"
            f"{_description(response)}; check the client id, secret and auth scheme"
        )
    if status == 404:
        raise NotFoundError(
            f"GET {path}: not found (HTTP 404){_description(response)}; check base_url and "
            "the collection name",
            status=status,
        )
    if status == 429:
        raise RateLimitedError(
            f"GET {path}: rate limited (HTTP 429)",
            status=status,
            retry_after=_retry_after(response),
        )
    if status >= 500:
        raise ServerError(
            f"GET {path}: server error (HTTP {status})",
            status=status,
            retry_after=_retry_after(response),
        )
    raise RequestRejectedError(
        f"GET {path}: the server rejected the request (HTTP {status}){_description(response)}",
        status=status,
    )
