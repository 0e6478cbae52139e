"""The OneRoster 1.1 CSV binding: write a bulk export, and read one back.

A bulk export is a zip file or a folder holding ``manifest.csv`` (``propertyName,value``
rows: ``manifest.version``, ``oneroster.version``, ``file.<table>`` = ``bulk`` or
``absent``, ...) and one ``<table>.csv`` per table present. :class:`BulkReader` yields every
record through :func:`~snapkit_oneroster.normalize.normalize_record`, the same normalization
the REST client applies, so both paths give the same records.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from snapkit_oneroster.errors import BulkFormatError
from snapkit_oneroster.normalize import normalize_record
from snapkit_oneroster.schema import TABLES, Field, Kind, table

MANIFEST_OTHER_FILES = (
    "classResources",
    "courseResources",
    "demographics",
    "resources",
)
"""Files of the 1.1 binding that this package neither writes nor reads (marked ``absent``)."""


# --------------------------------------------------------------------------- writing


def format_cell(f: Field, value: Any) -> str:
    """The CSV cell of a normalized value."""
    if value is None:
        return ""
    match f.kind:
        case Kind.BOOL:
            return "true" if value else "false"
        case Kind.FLOAT:
            return repr(float(value))
        case Kind.REF:
            return str(value["sourcedId"])
        case Kind.REFS:
            return ",".join(ref["sourcedId"] for ref in value)
        case Kind.TEXTS:
            return ",".join(value)
        case Kind.USER_IDS:
            return ",".join(f"{{{u['type']}:{u['identifier']}}}" for u in value)
        case _:
            return str(value)


def manifest_rows(
    tables: Iterable[str], *, system_name: str = "snapkit-oneroster"
) -> list[list[str]]:
    """The rows of ``manifest.csv`` for a bulk export holding ``tables``."""
    present = set(tables)
    rows = [
        ["propertyName", "value"],
        ["manifest.version", "1.0"],
        ["oneroster.version", "1.1"],
    ]
    for name in sorted((*TABLES, *MANIFEST_OTHER_FILES), key=str.lower):
        rows.append([f"file.{name}", "bulk" if name in present else "absent"])
    rows += [["source.systemName", system_name], ["source.systemCode", "synthetic"]]
    return rows


def _write_csv(stream: IO[str], rows: Iterable[Iterable[str]]) -> None:
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerows(rows)


def _table_rows(name: str, records: Iterable[Mapping[str, Any]]) -> Iterator[list[str]]:
    t = table(name)
    yield list(t.columns)
    for position, record in enumerate(records):
        normalized = normalize_record(t, record, position=position)
        yield [format_cell(f, normalized[f.name]) for f in t.fields]


def write_bulk_csv(tables: Mapping[str, Iterable[Mapping[str, Any]]], target: str | Path) -> Path:
    """Write a OneRoster 1.1 CSV bulk export.

    :param tables: table name -> its records (REST JSON or normalized), in the order to write.
    :param target: a path ending in ``.zip`` for a zip file, else a folder (created).
    :returns: the path written.
    """
    target = Path(target)
    if target.suffix.lower() == ".zip":
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as fh:
            write_bulk_zip(tables, fh)
        return target
    target.mkdir(parents=True, exist_ok=True)
    with (target / "manifest.csv").open("w", encoding="utf-8", newline="") as fh:
        _write_csv(fh, manifest_rows(tables))
    for name, records in tables.items():
        with (target / f"{name}.csv").open("w", encoding="utf-8", newline="") as fh:
            _write_csv(fh, _table_rows(name, records))
    return target


def write_bulk_zip(tables: Mapping[str, Iterable[Mapping[str, Any]]], stream: IO[bytes]) -> None:
    """Write a OneRoster 1.1 CSV bulk export as a zip into a binary stream."""
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("manifest.csv", "w") as raw, _text(raw) as fh:
            _write_csv(fh, manifest_rows(tables))
        for name, records in tables.items():
            with zf.open(f"{name}.csv", "w", force_zip64=True) as raw, _text(raw) as fh:
                _write_csv(fh, _table_rows(name, records))


def _text(raw: IO[bytes]) -> io.TextIOWrapper:
    return io.TextIOWrapper(raw, encoding="utf-8", newline="")


# --------------------------------------------------------------------------- reading


class BulkReader:
    """Reads a OneRoster 1.1 CSV bulk export from a zip file or a folder.

    Use as a context manager (a zip stays open while reading)::

        with BulkReader("export.zip") as bulk:
            for user in bulk.iter_records("users"):
                ...

    :param source: the zip file or the folder holding ``manifest.csv``.
    :raises BulkFormatError: when there is no manifest, or it is not a 1.1 bulk export.
    """

    def __init__(self, source: str | Path) -> None:
        self.source = Path(source)
        self._zip: zipfile.ZipFile | None = None
        if self.source.is_dir():
            pass
        elif zipfile.is_zipfile(self.source):
            self._zip = zipfile.ZipFile(self.source)
        else:
            raise BulkFormatError(
                f"{self.source.name}: not a zip file or a folder; pass the bulk export's "
                "zip file or the folder holding its manifest.csv"
            )
        self.manifest = self._read_manifest()
        self.tables = self._tables_present()

    def _open(self, member: str) -> IO[str] | None:
        if self._zip is not None:
            names = {n.rsplit("/", 1)[-1]: n for n in self._zip.namelist()}
            if member not in names:
                return None
            return io.TextIOWrapper(self._zip.open(names[member]), encoding="utf-8-sig", newline="")
        path = self.source / member
        if not path.is_file():
            return None
        return path.open(encoding="utf-8-sig", newline="")

    def _read_manifest(self) -> dict[str, str]:
        fh = self._open("manifest.csv")
        if fh is None:
            raise BulkFormatError(
                f"{self.source.name}: no manifest.csv; a OneRoster 1.1 bulk export has one "
                "at its top level"
            )
        with fh:
            rows = list(csv.reader(fh))
        if not rows or [c.strip() for c in rows[0][:2]] != ["propertyName", "value"]:
            raise BulkFormatError("manifest.csv: the header must be 'propertyName,value'")
        manifest = {r[0].strip(): r[1].strip() for r in rows[1:] if len(r) >= 2}
        version = manifest.get("oneroster.version")
        if version != "1.1":
            raise BulkFormatError(
                f"manifest.csv: oneroster.version is {version!r}; this reader reads 1.1 exports"
            )
        return manifest

    def _tables_present(self) -> tuple[str, ...]:
        present = []
        for name in TABLES:
            mode = self.manifest.get(f"file.{name}", "absent").lower()
            if mode == "delta":
                raise BulkFormatError(
                    f"manifest.csv: file.{name} is 'delta'; this reader reads bulk exports "
                    "only; ask the provider for a full (bulk) export"
                )
            if mode == "bulk":
                present.append(name)
            elif mode != "absent":
                raise BulkFormatError(
                    f"manifest.csv: file.{name} must be 'bulk', 'delta' or 'absent'"
                )
        return tuple(present)

    def iter_records(self, table_name: str) -> Iterator[dict[str, Any]]:
        """Every record of a table, normalized, in file order.

        :raises BulkFormatError: when the table is absent, its file is missing, its header
            lacks a column, or a row has the wrong number of cells.
        :raises RecordFormatError: when a cell cannot take its field's shape.
        """
        t = table(table_name)
        if t.name not in self.tables:
            raise BulkFormatError(
                f"{t.name}: the manifest marks this table absent; present: "
                f"{', '.join(self.tables) or 'none'}"
            )
        fh = self._open(f"{t.name}.csv")
        if fh is None:
            raise BulkFormatError(f"{t.name}.csv: listed as bulk in the manifest but missing")
        with fh:
            reader = csv.reader(fh)
            header = [c.strip() for c in next(reader, [])]
            missing = [c for c in t.columns if c not in header]
            if missing:
                raise BulkFormatError(f"{t.name}.csv: the header lacks {', '.join(missing)}")
            at = [(f.name, header.index(f.column)) for f in t.fields]
            for position, cells in enumerate(reader):
                if not cells:
                    continue
                if len(cells) != len(header):
                    raise BulkFormatError(
                        f"{t.name}.csv: row {position + 2} has {len(cells)} cells, "
                        f"the header {len(header)}"
                    )
                yield normalize_record(t, {name: cells[i] for name, i in at}, position=position)

    def close(self) -> None:
        """Close the zip file, if any."""
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> BulkReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
