"""The collector's HTTP shell: one GET per export, errors sorted into transient and permanent.

No retry loop here: a transient failure (5xx, 429, a dropped connection, a timeout) raises
:class:`~snapkit_toastmasters.errors.TransientFetchError`, and the snapkit engine retries the
oracle with backoff; anything else (404, 403, ...) is permanent.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

from snapkit_toastmasters.errors import ExportFetchError, TransientFetchError


class HttpFetcher:
    """Fetches exports with one :class:`httpx.Client` (connections reused).

    :param timeout: seconds per request.
    :param transport: an httpx transport (tests use :class:`httpx.MockTransport`).
    """

    def __init__(self, timeout: float = 60.0, *, transport: Any = None) -> None:
        self.client = httpx.Client(
            timeout=timeout,
            follow_redirects=True,
            transport=transport,
            headers={"User-Agent": "snapkit-toastmasters"},
        )
        self.requests = 0

    def __call__(self, district: str, report: str, url: str) -> bytes:
        """GET ``url``; return the body of a 200 answer.

        :raises TransientFetchError: on 5xx, 429, timeouts and connection failures.
        :raises ExportFetchError: on any other status.
        """
        self.requests += 1
        try:
            response = self.client.get(url)
        except httpx.TimeoutException:
            raise TransientFetchError(
                "the export request timed out", district=district, report=report
            ) from None
        except httpx.TransportError as exc:
            raise TransientFetchError(
                f"the export request failed ({type(exc).__name__})",
                district=district,
                report=report,
            ) from None
        status = response.status_code
        if status == 200:
            return response.content
        if status >= 500 or status == 429:
            raise TransientFetchError(
                f"the dashboard answered HTTP {status}",
                district=district,
                report=report,
                retry_after=_retry_after(response),
            )
        raise ExportFetchError(
            f"the dashboard answered HTTP {status}",
            district=district,
            report=report,
            hint="check base_url, the district and the program year",
        )

    def close(self) -> None:
        """Close the connections."""
        self.client.close()

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
