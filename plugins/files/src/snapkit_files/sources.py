"""Reading text from a local file or an HTTP(S) URL, streaming."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from snapkit.errors import OracleError, TransientOracleError

RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


@contextmanager
def open_lines(path: Path | None, url: str | None, *, encoding: str, timeout: float,
               headers: Mapping[str, str]) -> Iterator[Iterator[str]]:
    """Open a source and yield an iterator of its text lines (with line endings)."""
    if path is not None:
        try:
            handle = path.open("r", encoding=encoding, newline="")
        except FileNotFoundError:
            raise OracleError(f"file {path} does not exist",
                              hint="check the oracle's 'path' setting") from None
        except OSError as exc:
            raise OracleError(f"cannot read {path}: {exc.strerror}") from None
        with handle:
            yield iter(handle)
        return
    assert url is not None
    import httpx

    try:
        with httpx.Client(timeout=timeout, follow_redirects=True) as client, \
                client.stream("GET", url, headers=dict(headers)) as response:
            _check(response, url)
            yield _decode_lines(response.iter_lines())
    except httpx.TimeoutException:
        raise TransientOracleError(f"{_safe(url)} timed out after {timeout:g} s") from None
    except httpx.TransportError as exc:
        raise TransientOracleError(f"{_safe(url)}: {type(exc).__name__}") from None


def _decode_lines(lines: Iterator[str]) -> Iterator[str]:
    for line in lines:
        yield line + "\n"


def _check(response: object, url: str) -> None:
    status = response.status_code  # type: ignore[attr-defined]
    if status < 400:
        return
    retry_after = response.headers.get("retry-after")  # type: ignore[attr-defined]
    message = f"{_safe(url)} answered HTTP {status}"
    if status in RETRYABLE_STATUS:
        wait = float(retry_after) if retry_after and retry_after.isdigit() else None
        raise TransientOracleError(message, retry_after=wait)
    raise OracleError(message, hint="check the URL and its credentials")


def _safe(url: str) -> str:
    """The URL without its query string (which may carry tokens)."""
    return url.split("?", 1)[0]
