"""Reading text from a local file or an HTTP(S) URL, streaming."""

from __future__ import annotations

import codecs
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from snapkit.errors import OracleError, TransientOracleError

RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


@contextmanager
def open_lines(
    path: Path | None, url: str | None, *, encoding: str, timeout: float, headers: Mapping[str, str]
) -> Iterator[Iterator[str]]:
    """Open a source and yield an iterator of its text lines (with line endings).

    A UTF-8 byte-order mark at the start is dropped (it would otherwise glue itself to the
    first field name); bytes the ``encoding`` cannot decode are an :class:`OracleError`
    naming the line and the ``encoding`` setting.
    """
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise OracleError(
            f"unknown encoding {encoding!r}",
            hint='set the oracle\'s \'encoding\' to a Python codec name, e.g. "utf-8" or "latin-1"',
        ) from None
    if path is not None:
        try:
            handle = path.open("r", encoding=_sig(encoding), newline="")
        except FileNotFoundError:
            raise OracleError(
                f"file {path} does not exist", hint="check the oracle's 'path' setting"
            ) from None
        except OSError as exc:
            raise OracleError(f"cannot read {path}: {exc.strerror}") from None
        with handle:
            yield _decoded(handle, path, encoding)
        return
    assert url is not None
    import httpx

    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=True) as client,
            client.stream("GET", url, headers=dict(headers)) as response,
        ):
            _check(response, url)
            yield _url_lines(response.iter_bytes(), _safe(url), encoding)
    except httpx.TimeoutException:
        raise TransientOracleError(f"{_safe(url)} timed out after {timeout:g} s") from None
    except httpx.TransportError as exc:
        raise TransientOracleError(f"{_safe(url)}: {type(exc).__name__}") from None


def _sig(encoding: str) -> str:
    """``utf-8-sig`` for UTF-8 (it drops a leading byte-order mark), else ``encoding``."""
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


def _decoded(lines: Iterator[str], path: Path, encoding: str) -> Iterator[str]:
    try:
        yield from lines
    except UnicodeDecodeError as exc:
        raise _not_decodable(
            path.name, encoding, exc.object[exc.start : exc.start + 1], _bad_line(path, encoding)
        ) from None


def _bad_line(path: Path, encoding: str) -> int | None:
    """The line (from 1) holding the first byte ``encoding`` cannot decode, if found."""
    decoder = codecs.getincrementaldecoder(_sig(encoding))()
    newlines = 0
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 16), b""):
                for start in range(0, len(chunk), 4096):
                    piece = chunk[start : start + 4096]
                    try:
                        text = decoder.decode(piece)
                    except UnicodeDecodeError as exc:
                        good = piece[: exc.start]
                        return newlines + _count_newlines(good, encoding) + 1
                    newlines += text.count("\n")
    except OSError:
        return None
    return None


def _count_newlines(data: bytes, encoding: str) -> int:
    return codecs.decode(data, _sig(encoding), errors="replace").count("\n")


def _url_lines(chunks: Iterator[bytes], source: str, encoding: str) -> Iterator[str]:
    """Decode a response body strictly with ``encoding`` (never replacing bytes it cannot
    decode) and yield its lines, each ending in ``\\n``."""
    decoder = codecs.getincrementaldecoder(_sig(encoding))()
    pending = ""
    lines_done = 0
    for chunk in _with_end(chunks):
        try:
            text = decoder.decode(chunk or b"", final=chunk is None)
        except UnicodeDecodeError as exc:
            good = codecs.decode(
                (chunk or b"")[: max(exc.start, 0)], _sig(encoding), errors="replace"
            )
            line = lines_done + pending.count("\n") + good.count("\n") + 1
            raise _not_decodable(
                source, encoding, (chunk or b"\0")[max(exc.start, 0) :][:1], line
            ) from None
        pending += text
        *lines, pending = pending.split("\n")
        for line_text in lines:
            lines_done += 1
            yield line_text + "\n"
    if pending:
        yield pending + "\n"


def _with_end(chunks: Iterator[bytes]) -> Iterator[bytes | None]:
    yield from chunks
    yield None


def _not_decodable(source: str, encoding: str, byte: bytes, line: int | None) -> OracleError:
    at = f" on line {line}" if line else ""
    value = f"0x{byte[0]:02x}" if byte else "a byte"
    return OracleError(
        f"{source} is not {encoding} text: byte {value}{at} cannot be decoded",
        hint="set the oracle's 'encoding' setting to the source's encoding "
        '(e.g. encoding = "latin-1" or "cp1252")',
    )


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
