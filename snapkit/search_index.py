"""Search indexes: keys and row positions per (part, field) in SQLite, checked on every use.

**What an index holds.** One SQLite file per (part, field), ``INDEX_DIR/ab/<sha256>/<field>
.sqlite``, keyed by the part's SHA-256 (a part's bytes never change, so an index is never
stale). It holds no rows: for each (case-folded value, row) of the field one entry with the
value (UTF-8 bytes), the byte offset of the row's line in the part and an 8-byte BLAKE2b
digest of that line, sorted by value then offset. A lookup reads the wanted rows' bytes
through the store (:func:`fetch_rows`: by range where the store offers it, else the part from
its start up to the last wanted offset), cuts the lines out and returns only lines whose
digest matches; the rows are then checked with the same matcher the scan uses
and kept in table order, so an indexed search returns exactly what a scan returns. One
file per (part, field) rather than one per part: fields come and go with the config while
the part stays, each file is built, replaced and checked on its own, and a damaged file
costs one field only.

**Why the answers can be trusted.** Entries are packed, in sorted order, in buckets of
:data:`BUCKET` (table ``bodies``: one BLOB per bucket; table ``buckets``: each bucket's
first key, size and SHA-256). A root SHA-256 over the index's metadata (format, the part's
SHA-256, the field, counts) and every bucket's first key, size and digest is stored in the
metadata. Opening an index reads the bucket listing and checks the root (one row per 256
entries: a few milliseconds for a million), and a lookup checks the SHA-256 of every bucket
body it reads (one hash call per bucket, in C). So a changed, lost or moved entry, a changed
key (which would hide rows from ``=``), a truncated or foreign file (another part's or
field's: the root covers both names) is found at the first lookup that could be affected,
never answered from; a file that is not SQLite fails to open. This is cheaper than hashing
the whole file on each open (which costs as much as the scan the index avoids, and the CLI
opens a new process per search), needs no cache keyed on mtimes, and is as strong for the
entries a lookup uses. ``PRAGMA integrity_check`` is not used: it passes a well-formed file
holding wrong values. Row digests were taken at build time from a part read whose SHA-256
was checked, so a returned row is byte for byte the verified part's, even though the lookup
stops reading the part early.

**What it costs.** A store with range reads (:class:`snapkit.store.PartRangeReader`; the
file store writes parts as independent zstd frames of about 1 MiB of whole lines with a
checked seek table) decompresses only the frames holding the wanted rows: about a
millisecond per row, whatever the table's size. A store without them, or a part written
before seekable parts (one zstd frame, which cannot be read from the middle), is read from
its start up to the last wanted row (on average half of it for one random row; the limit
stops it early). The index itself is small: an entry costs its value plus about 20 bytes
(position, digest, SQLite's pages): 56 MB for the emails of a million users beside a 446 MB
part, against a full copy of every row per field (498 MB) in the format before.

**Building.** An index is built into a scratch file beside its final name
(``.<field>.<host>.<pid>.<random>.tmp``, SQLite's journal off), synced, then renamed over
the final name, so readers see the old file or the new one, never half of one; two builds
of the same index each write their own scratch and the last rename wins (both results are
the same, valid index). Scratch left by a killed build (its process is gone, or it is older
than :data:`STALE_AFTER`) and files of the earlier format (``.idx``/``.off`` and their
scratch folders) are removed whenever that part's folder is next built or checked.
Building reads the part with its SHA-256 checked: a damaged part builds no index.

**When indexes are checked and rebuilt.** Every lookup checks what it reads (above). A
search that finds an index damaged, foreign or missing (though ``[search] index`` asks for
it) rebuilds it on the spot, answers with a scan of the part, and says so
(``SearchResult.index_problem``, a warning on stderr). A refresh checks every index its
snapshot's parts should have (all buckets) and builds the missing or damaged ones; failing
to build one after the commit is a warning on the committed snapshot. ``snapkit snapshots
verify`` checks every index file fully and rebuilds each (in a temporary folder) to compare
its root, so an index that is well formed but disagrees with its part is found too; it
reports orphans (indexes of parts no snapshot uses); ``snapkit search --reindex`` rebuilds
a snapshot's configured indexes and removes orphans and leftovers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import socket
import sqlite3
import tempfile
import time
from bisect import bisect_left
from collections.abc import Generator, Iterable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

from attrs import frozen

from snapkit.contracts import PartRef
from snapkit.errors import InvalidIdentifierError
from snapkit.identifiers import check_name
from snapkit.search_core import Query, as_text, part_blocks

FORMAT = "snapkit-search-index/2"
"""The format this module writes and reads (in each file's metadata)."""

BUCKET = 256
"""Entries per checked bucket: a lookup hashes one or two buckets, and opening an index
reads one bucket listing per this many entries."""

ROW_DIGEST = 8
"""Bytes of BLAKE2b kept per row (a damaged row passes with odds of 2**-64)."""

SUFFIX = ".sqlite"
STALE_AFTER = 6 * 3600.0
"""Seconds after which scratch from another host (whose process cannot be checked) is stale."""

_HOST = socket.gethostname().replace(".", "-")[:64] or "host"
_LEGACY_SUFFIXES = (".idx", ".off", ".idx.tmp", ".off.tmp")


class IndexDamaged(Exception):  # a state a search recovers from (hence not ...Error)
    """An index file that cannot be used: damaged, truncated, foreign or unreadable.

    The message names what is wrong (never a value); :func:`describe` adds the file.
    :func:`indexed_search` sets ``field`` and ``path``.
    """

    field: str | None = None
    path: Path | None = None


@frozen
class IndexBuildReport:
    """What :func:`build_configured_indexes` did: ``table.field`` names, and warnings."""

    built: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


# -- names ------------------------------------------------------------------------------------


def index_folder(project: Any) -> Path:
    """The folder the project's search indexes live in."""
    return Path(project.config.resolve_path(project.config.search.index_dir))


def index_path(folder: Path, sha256: str, field: str) -> Path:
    """Where the index of ``field`` for the part with ``sha256`` lives."""
    check_name(field.replace(".", "_"), "indexed field")
    return folder / sha256[:2] / sha256 / f"{field}{SUFFIX}"


def row_digest(line: bytes) -> bytes:
    """The digest an index keeps of a row's line (without its ``\\n``)."""
    return hashlib.blake2b(line, digest_size=ROW_DIGEST).digest()


def _key(text: str) -> bytes:
    return text.casefold().encode("utf-8", "surrogatepass")


def _entry(key: bytes, offset: int, digest: bytes) -> bytes:
    return len(key).to_bytes(4, "big") + key + offset.to_bytes(8, "big") + digest


def _bucket_digest(number: int, body: bytes) -> bytes:
    return hashlib.sha256(number.to_bytes(8, "big") + body).digest()


def _parse(body: bytes) -> Iterator[tuple[bytes, int, bytes]]:
    """The ``(key, offset, digest)`` entries packed in a bucket's body (see :func:`_entry`)."""
    position, end = 0, len(body)
    while position < end:
        size = int.from_bytes(body[position : position + 4], "big")
        key_end = position + 4 + size
        yield (
            body[position + 4 : key_end],
            int.from_bytes(body[key_end : key_end + 8], "big"),
            body[key_end + 8 : key_end + 8 + ROW_DIGEST],
        )
        position = key_end + 8 + ROW_DIGEST


def _root(meta: dict[str, str], buckets: Iterable[tuple[bytes, int, bytes]]) -> str:
    hasher = hashlib.sha256(
        json.dumps({k: v for k, v in meta.items() if k != "root"}, sort_keys=True).encode()
    )
    for first, count, digest in buckets:
        hasher.update(_entry(first, count, digest))
    return hasher.hexdigest()


# -- building ---------------------------------------------------------------------------------


def _keyed_rows(
    store: Any, sha256: str, field: str, counts: list[int]
) -> Iterator[tuple[bytes, int, bytes]]:
    """``(key, offset, digest)`` for each value of ``field`` in each row of the part, read
    with its SHA-256 checked (a damaged part raises at the end, before any rename)."""
    from snapkit.search_core import _decoder, _split_lines, _values

    decode = _decoder()
    offset = 0
    with closing(part_blocks(store, sha256, verify=True)) as blocks:
        for line in _split_lines(blocks):
            counts[0] += 1
            digest = row_digest(line)
            seen: set[bytes] = set()
            for value in _values(decode(line), field):
                text = as_text(value)
                if text is None:
                    continue
                key = _key(text)
                if key not in seen:
                    seen.add(key)
                    yield key, offset, digest
            offset += len(line) + 1


def _write(target: Path, store: Any, sha256: str, field: str) -> str:
    """Write a complete index to ``target`` (a new file); return its root."""
    counts = [0]
    connection = sqlite3.connect(target, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("BEGIN")
        connection.execute("CREATE TABLE meta(name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        connection.execute(
            "CREATE TABLE buckets(bucket INTEGER PRIMARY KEY, first_key BLOB "
            "NOT NULL, entries INTEGER NOT NULL, digest BLOB NOT NULL)"
        )
        connection.execute("CREATE TABLE bodies(bucket INTEGER PRIMARY KEY, body BLOB NOT NULL)")
        connection.execute("CREATE TEMP TABLE scratch(key BLOB, offset INTEGER, digest BLOB)")
        connection.executemany(
            "INSERT INTO temp.scratch VALUES (?, ?, ?)", _keyed_rows(store, sha256, field, counts)
        )
        buckets: list[tuple[bytes, int, bytes]] = []
        total = 0
        sorted_entries = connection.execute(
            "SELECT key, offset, digest FROM temp.scratch ORDER BY key, offset"
        )
        while chunk := sorted_entries.fetchmany(BUCKET):
            number = len(buckets)
            body = b"".join(_entry(key, offset, digest) for key, offset, digest in chunk)
            connection.execute("INSERT INTO bodies VALUES (?, ?)", (number, body))
            buckets.append((chunk[0][0], len(chunk), _bucket_digest(number, body)))
            total += len(chunk)
        connection.executemany(
            "INSERT INTO buckets VALUES (?, ?, ?, ?)", ((n, *b) for n, b in enumerate(buckets))
        )
        meta = {
            "format": FORMAT,
            "part": sha256,
            "field": field,
            "entries": str(total),
            "rows": str(counts[0]),
            "bucket": str(BUCKET),
        }
        meta["root"] = _root(meta, buckets)
        connection.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
        connection.execute("COMMIT")
        connection.execute("DROP TABLE temp.scratch")
    finally:
        connection.close()
    with open(target, "rb") as handle:
        os.fsync(handle.fileno())
    return meta["root"]


def build_index(store: Any, folder: Path, sha256: str, field: str) -> Path:
    """Build (or rebuild) the index of ``field`` for the part with ``sha256``; return its path.

    Written to a scratch file, synced and renamed over the final name (see the module
    docstring); the scratch is removed whatever happens, and stale scratch of earlier killed
    builds in the same folder is removed first.

    :raises CorruptSnapshotError: if the part is damaged (no index is written).
    :raises OSError, sqlite3.Error: if the file cannot be written.
    """
    path = index_path(folder, sha256, field)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_folder(path.parent)
    scratch = path.parent / f".{field}.{_HOST}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        _write(scratch, store, sha256, field)
        os.replace(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        descriptor = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    return path


def clean_folder(folder: Path) -> list[str]:
    """Remove stale scratch of killed builds and files of the earlier format from one part's
    index folder; return the names removed."""
    removed: list[str] = []
    try:
        children = list(folder.iterdir())
    except OSError:
        return removed
    for child in children:
        name = child.name
        scratch = name.startswith(".") and name.endswith(".tmp") and _stale_scratch(child)
        if scratch or (name.endswith(_LEGACY_SUFFIXES) and child.is_file()):
            child.unlink(missing_ok=True)
        elif name.startswith("tmp") and child.is_dir():  # the earlier format's scratch
            shutil.rmtree(child, ignore_errors=True)
        else:
            continue
        removed.append(name)
    return removed


def _stale_scratch(path: Path) -> bool:
    """Whether a scratch file was left by a build that is no longer running."""
    parts = path.name.split(".")
    try:
        age = time.time() - path.stat().st_mtime
    except OSError:
        return False
    if age > STALE_AFTER:
        return True
    if len(parts) >= 5 and parts[-4] == _HOST and parts[-3].isdigit():
        pid = int(parts[-3])
        if pid == os.getpid():
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
    return False


# -- reading ----------------------------------------------------------------------------------


class Index:
    """An opened index whose metadata and bucket table were checked against its root.

    :raises IndexDamaged: if the file is not a readable index of this part and field.
    """

    def __init__(self, path: Path, sha256: str, field: str) -> None:
        self.path = path
        try:
            uri = path.resolve().as_uri() + "?mode=ro&immutable=1"
            self._connection = sqlite3.connect(uri, uri=True)
        except (sqlite3.Error, OSError) as exc:
            raise IndexDamaged(f"cannot be opened ({exc})") from None
        try:
            self._check(sha256, field)
        except BaseException:
            self._connection.close()
            raise

    def _check(self, sha256: str, field: str) -> None:
        try:
            meta = dict(self._connection.execute("SELECT name, value FROM meta"))
            rows = self._connection.execute(
                "SELECT bucket, first_key, entries, digest FROM buckets ORDER BY bucket"
            ).fetchall()
        except sqlite3.Error as exc:
            raise IndexDamaged(f"cannot be read ({exc})") from None
        if meta.get("format") != FORMAT:
            raise IndexDamaged("is not a search index of this snapkit's format")
        if meta.get("part") != sha256 or meta.get("field") != field:
            raise IndexDamaged("belongs to another part or field")
        if [row[0] for row in rows] != list(range(len(rows))):
            raise IndexDamaged("has a damaged bucket table")
        self.buckets = [(bytes(first), count, bytes(digest)) for _, first, count, digest in rows]
        if _root(meta, self.buckets) != meta.get("root"):
            raise IndexDamaged("does not match its root digest")
        self.first_keys = [first for first, _, _ in self.buckets]
        self.entries = int(meta["entries"])
        self.rows = int(meta["rows"])
        self.root = meta["root"]

    def close(self) -> None:
        """Close the file."""
        self._connection.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self, low: int, high: int) -> Generator[tuple[bytes, int, bytes], None, None]:
        """The entries of buckets ``low..high``, each bucket's body checked against its
        digest (and its first key and size) before it is used."""
        expected = low
        try:
            rows = self._connection.execute(
                "SELECT bucket, body FROM bodies WHERE bucket BETWEEN ? AND ? ORDER BY bucket",
                (low, high),
            )
            for number, body in rows:
                if number != expected:
                    raise IndexDamaged(f"has lost bucket {expected}")
                expected += 1
                yield from self._entries(number, body)
        except sqlite3.Error as exc:
            raise IndexDamaged(f"cannot be read ({exc})") from None
        if expected != high + 1:
            raise IndexDamaged(f"has lost bucket {expected}")

    def _entries(self, number: int, body: object) -> Iterator[tuple[bytes, int, bytes]]:
        """A bucket's entries, once its body matches its digest (then it is the body that
        was built: its size and order need no further check)."""
        first, _, digest = self.buckets[number]
        if not isinstance(body, bytes) or _bucket_digest(number, body) != digest:
            raise IndexDamaged(f"bucket {number} does not match its digest")
        entries = _parse(body)
        entry = next(entries, None)
        if entry is None or entry[0] != first:
            raise IndexDamaged(f"bucket {number} does not match its listing")
        yield entry
        yield from entries

    def lookup(self, text: str, prefix: bool) -> list[tuple[int, bytes]]:
        """``(offset, row digest)`` of the rows with a value equal to (or starting with)
        ``text``, case-folded, in table order."""
        key = _key(text)
        if not self.buckets:
            return []
        first_keys = self.first_keys
        low = max(0, bisect_left(first_keys, key) - 1)
        high = low
        while high + 1 < len(first_keys) and (
            first_keys[high + 1] <= key or (prefix and first_keys[high + 1].startswith(key))
        ):
            high += 1
        found = {}
        entries = self._read(low, high)
        with closing(entries):
            for found_key, offset, digest in entries:
                if found_key == key or (prefix and found_key.startswith(key)):
                    found[offset] = digest
                elif found_key > key:
                    break  # sorted: nothing further matches
        return sorted(found.items())

    def check_all(self) -> None:
        """Check every bucket (what ``verify`` and a refresh do)."""
        try:
            (bodies,) = self._connection.execute("SELECT count(*) FROM bodies").fetchone()
        except sqlite3.Error as exc:
            raise IndexDamaged(f"cannot be read ({exc})") from None
        if bodies != len(self.buckets):
            raise IndexDamaged(f"holds {bodies} buckets where it lists {len(self.buckets)}")
        total = 0
        for low in range(0, len(self.buckets), 256):
            for _ in self._read(low, min(low + 256, len(self.buckets)) - 1):
                total += 1
        if total != self.entries:
            raise IndexDamaged(f"holds {total} entries where it lists {self.entries}")


def describe(path: Path, table: str, field: str, problem: IndexDamaged | str) -> str:
    """A one-line description of an index problem (no values)."""
    return f"the search index on {table}.{field} ({path}) {problem}"


ROW_READ = 4096
"""Bytes asked of the store per wanted row when it reads ranges (a longer row is read again,
whole)."""


def fetch_rows(
    store: Any, sha256: str, wanted: list[tuple[int, bytes]]
) -> Generator[bytes, None, None]:
    """The part's lines at the ``(offset, digest)`` positions in ``wanted`` (ascending), each
    checked against its digest.

    Read through the store's ``read_part_ranges`` when it has one
    (:class:`snapkit.store.PartRangeReader`: only the stretches of the part holding the rows
    are decompressed), else through its blocks from the start until the last row.

    :raises IndexDamaged: if a line does not match its digest, or is past the part's end.
    """
    from snapkit.store import PartRangeReader

    if not wanted:
        return
    if not isinstance(store, PartRangeReader):
        yield from _fetch_from_start(store, sha256, wanted)
        return
    pieces = store.read_part_ranges(sha256, ((offset, ROW_READ) for offset, _ in wanted))
    with closing(pieces):
        for offset, digest in wanted:
            piece = next(pieces, b"")
            end = piece.find(b"\n")
            length = ROW_READ
            while end < 0 and len(piece) == length:  # a row longer than asked: read it whole
                length *= 4
                with closing(store.read_part_ranges(sha256, [(offset, length)])) as longer:
                    piece = next(longer, b"")
                end = piece.find(b"\n")
            if end < 0:
                raise IndexDamaged(f"points past the end of the part (offset {offset})")
            yield _checked(piece[:end], offset, digest)


def _checked(line: bytes, offset: int, digest: bytes) -> bytes:
    """The line of the row at ``offset``, if it matches ``digest``."""
    if row_digest(line) != digest:
        raise IndexDamaged(f"points at a row (offset {offset}) that does not match the part")
    return line


def _fetch_from_start(
    store: Any, sha256: str, wanted: list[tuple[int, bytes]]
) -> Generator[bytes, None, None]:
    """:func:`fetch_rows` for stores without range reads: the part's blocks from its start."""
    index = 0
    position = 0  # the offset in the part of data[0]
    data = b""
    with closing(part_blocks(store, sha256, verify=False)) as blocks:
        for block in blocks:
            data = data + block if data else block
            while index < len(wanted):
                start = wanted[index][0] - position
                if start >= len(data):
                    break
                end = data.find(b"\n", start)
                if end < 0:
                    break
                yield _checked(data[start:end], wanted[index][0], wanted[index][1])
                index += 1
            if index == len(wanted):
                return
            start = wanted[index][0] - position
            if start < len(data):
                data, position = data[start:], position + start
            else:
                data, position = b"", position + len(data)
    raise IndexDamaged(f"points past the end of the part (offset {wanted[index][0]})")


def indexed_search(
    project: Any, part: PartRef, query: Query, *, offset: int, limit: int | None
) -> tuple[list[dict[str, Any]], bool, int, str] | None:
    """Answer ``query`` from an index, or return ``None`` if no index covers any term.

    :raises IndexDamaged: with ``field`` and ``path`` attributes, if the index of a term is
        damaged, or missing though ``[search] index`` asks for it.
    """
    from snapkit.search_core import _decoder

    folder = index_folder(project)
    configured = set(project.config.search.index.get(part.name, ()))
    for term in query.terms:
        if term.field is None or term.op not in {"=", "^="}:
            continue
        try:
            path = index_path(folder, part.sha256, term.field)
        except InvalidIdentifierError:  # a field name that cannot name a file has no index
            continue
        try:
            if not path.exists():
                if term.field in configured:
                    raise IndexDamaged("is missing")
                continue
            with Index(path, part.sha256, term.field) as index:
                candidates = index.lookup(term.value, term.op == "^=")
            decode = _decoder()
            rows: list[dict[str, Any]] = []
            matched = 0
            stop = None if limit is None else offset + limit
            lines = fetch_rows(project.store, part.sha256, candidates)
            with closing(lines):
                for line in lines:
                    record = decode(line)
                    if not query.matches(record):
                        continue
                    if stop is not None and matched >= stop:
                        return rows, True, len(candidates), term.field
                    if matched >= offset:
                        rows.append(record)
                    matched += 1
            return rows, False, len(candidates), term.field
        except IndexDamaged as exc:
            exc.field, exc.path = term.field, path
            raise
    return None


# -- refresh, verify and reindex ---------------------------------------------------------------


def build_configured_indexes(project: Any, manifest: Any) -> IndexBuildReport:
    """Make sure the indexes ``[search] index`` asks for exist and check out, for a committed
    snapshot's parts: each existing one is checked fully and kept, a missing or damaged one is
    built. Never raises for an index: what cannot be built is a warning (the snapshot is
    committed whatever happens here)."""
    folder = index_folder(project)
    built, kept, warnings = [], [], []
    for part in manifest.parts:
        for field in project.config.search.index.get(part.name, ()):
            name = f"{part.name}.{field}"
            try:
                path = index_path(folder, part.sha256, field)
                clean_folder(path.parent)
                if path.exists():
                    try:
                        with Index(path, part.sha256, field) as index:
                            index.check_all()
                        kept.append(name)
                        continue
                    except IndexDamaged:
                        pass
                build_index(project.store, folder, part.sha256, field)
                built.append(name)
            except Exception as exc:  # after a commit: a warning, never a failure
                warnings.append(
                    f"the search index on {name} was not built ({type(exc).__name__}: {exc}); "
                    f"the snapshot is committed and searches scan the table; build it with "
                    f"'snapkit search --reindex'"
                )
    return IndexBuildReport(tuple(built), tuple(kept), tuple(warnings))


def _index_files(folder: Path) -> Iterator[tuple[str, Path]]:
    """``(part sha256, path)`` of every file in the index folder's part folders."""
    if not folder.is_dir():
        return
    for prefix in sorted(folder.iterdir()):
        if not prefix.is_dir() or len(prefix.name) != 2:
            continue
        for part_folder in sorted(prefix.iterdir()):
            if part_folder.is_dir():
                for path in sorted(part_folder.iterdir()):
                    yield part_folder.name, path


def _stored_parts(project: Any) -> dict[str, str]:
    """``{sha256: table}`` for every part a stored snapshot references."""
    parts: dict[str, str] = {}
    for info in project.store.list(None, None):
        try:
            manifest = project.store.get(info.id)
        except Exception:  # the store's own verify reports unreadable manifests
            continue
        for part in manifest.parts:
            parts.setdefault(part.sha256, part.name)
    return parts


def verify_indexes(project: Any) -> list[Any]:
    """Check every index file: that it belongs to a stored part, opens against its root, that
    every bucket matches, and that rebuilding it from the part gives the same root; and that
    the current snapshot has the indexes ``[search] index`` asks for. Returns
    :class:`snapkit.store.VerifyProblem` items (kind ``index``)."""
    from snapkit.store import VerifyProblem

    folder = index_folder(project)
    if not project.config.search.index and not folder.is_dir():
        return []
    parts = _stored_parts(project) if folder.is_dir() else {}
    problems: list[VerifyProblem] = []
    repair = "; run 'snapkit search --reindex' to rebuild it"
    for sha256, path in _index_files(folder):
        name = path.name
        if name.startswith(".") and name.endswith(".tmp"):
            continue  # scratch: of a running build, or removed by the next build
        if sha256 not in parts:
            problems.append(
                VerifyProblem(
                    "index",
                    sha256,
                    f"{path} belongs to no stored part "
                    f"(its snapshots were pruned); run 'snapkit search "
                    f"--reindex' to remove it",
                )
            )
            continue
        table = parts[sha256]
        if not name.endswith(SUFFIX):
            problems.append(
                VerifyProblem(
                    "index", sha256, f"{path} is not a search index of this format{repair}"
                )
            )
            continue
        field = name[: -len(SUFFIX)]
        problem = _check_index(project, path, sha256, field)
        if problem is not None:
            problems.append(
                VerifyProblem("index", sha256, describe(path, table, field, problem) + repair)
            )
    try:
        current = project.store.latest_successful()
    except Exception:  # the store's own verify reports a damaged pointer
        current = None
    if current is not None:
        for part in current.parts:
            for field in project.config.search.index.get(part.name, ()):
                path = index_path(folder, part.sha256, field)
                if not path.exists():
                    problems.append(
                        VerifyProblem(
                            "index",
                            part.sha256,
                            describe(path, part.name, field, "is missing") + repair,
                        )
                    )
    return problems


def _check_index(project: Any, path: Path, sha256: str, field: str) -> str | None:
    """What is wrong with one index file, or ``None``: a full check, then a rebuild in a
    temporary folder whose root must be the same."""
    try:
        with Index(path, sha256, field) as index:
            index.check_all()
            root = index.root
    except IndexDamaged as exc:
        return str(exc)
    with tempfile.TemporaryDirectory(prefix="snapkit-index-") as scratch:
        try:
            expected = _write(Path(scratch) / "check.sqlite", project.store, sha256, field)
        except Exception as exc:  # e.g. a damaged part (the store's verify names it)
            return f"could not be compared with its part ({type(exc).__name__})"
    if expected != root:
        return "does not match its part (a rebuild gives other entries)"
    return None


def remove_orphan_indexes(project: Any) -> list[str]:
    """Remove the indexes of parts no stored snapshot uses (after a prune), and leftovers
    (stale scratch, the earlier format's files) beside the others; return what was removed."""
    folder = index_folder(project)
    if not folder.is_dir():
        return []
    stored = _stored_parts(project)
    done = []
    for part_folder in sorted({path.parent for _, path in _index_files(folder)}):
        if part_folder.name not in stored:
            shutil.rmtree(part_folder, ignore_errors=True)
            done.append(
                f"removed the indexes of part {part_folder.name[:12]} (no stored snapshot uses it)"
            )
        else:
            done.extend(
                f"removed {part_folder / name} (left over)" for name in clean_folder(part_folder)
            )
    for prefix in folder.glob("??"):
        if prefix.is_dir() and not any(prefix.iterdir()):
            with contextlib.suppress(OSError):
                prefix.rmdir()
    return done


def reindex(project: Any, ref: str = "current", table: str | None = None) -> list[str]:
    """Rebuild search indexes and remove what is not one: the indexes ``[search] index`` asks
    for on a snapshot's parts (``table`` only, if given), and every other index file of a
    stored part (all of them, whatever a check would say: it is the repair ``verify`` names);
    files in the index folder that are not indexes, leftovers (stale scratch, the earlier
    format's files) and indexes of parts no stored snapshot uses are removed. Returns what
    was done, one line each.

    :raises CorruptSnapshotError: if a part is damaged (its index is not rebuilt).
    """
    from snapkit.parts import require_table

    manifest = project.resolve(ref)
    folder = index_folder(project)
    stored = _stored_parts(project)
    wanted: dict[tuple[str, str], str] = {}
    for part in [require_table(manifest, table)] if table else manifest.parts:
        for field in project.config.search.index.get(part.name, ()):
            wanted[(part.sha256, field)] = part.name
    done = []
    for sha256, path in list(_index_files(folder)):
        name = path.name
        if sha256 not in stored or (name.startswith(".") and name.endswith(".tmp")):
            continue  # orphans and scratch: below
        field = name[: -len(SUFFIX)] if name.endswith(SUFFIX) else ""
        try:
            index_path(folder, sha256, field)
        except InvalidIdentifierError:  # not the name of an index file
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            done.append(f"removed {path} (not a search index)")
            continue
        wanted.setdefault((sha256, field), stored[sha256])
    for (sha256, field), table_name in sorted(wanted.items()):
        build_index(project.store, folder, sha256, field)
        done.append(f"rebuilt the index on {table_name}.{field} (part {sha256[:12]})")
    done.extend(remove_orphan_indexes(project))
    return done


def repair_after(project: Any, part: PartRef, damage: IndexDamaged) -> str:
    """Rebuild an index a search found damaged; return the message the search reports.

    :raises CorruptSnapshotError: if the part itself is damaged (the search fails with it).
    """
    from snapkit.errors import CorruptSnapshotError

    field = damage.field or "?"
    path = damage.path or index_folder(project)
    message = describe(path, part.name, field, damage)
    try:
        build_index(project.store, index_folder(project), part.sha256, field)
    except CorruptSnapshotError:
        raise
    except Exception as exc:  # the search still answers, by a scan
        return (
            f"{message}; answered by a scan; it could not be rebuilt "
            f"({type(exc).__name__}: {exc}): run 'snapkit search --reindex'"
        )
    return f"{message}; answered by a scan; the index was rebuilt"
