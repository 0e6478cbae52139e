"""The files oracle: one configured source (path or URL) loaded as a payload or a record stream."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from snapkit.errors import ConfigError, ContractError
from snapkit_files.formats import parse_csv, parse_json, parse_jsonl
from snapkit_files.settings import infer_format
from snapkit_files.sources import open_lines


class FilesOracle:
    """Loads one file or URL. ``root`` is the folder relative paths are resolved against."""

    def __init__(self, settings: Mapping[str, Any], root: Path) -> None:
        self.settings = dict(settings)
        self.root = root
        self.format = infer_format(self.settings)
        self.records = bool(self.settings.get("records", self.format in {"jsonl", "csv"}))
        path = self.settings.get("path")
        self.path = (root / Path(path).expanduser()) if path else None
        self.url: str | None = self.settings.get("url")
        self.source = str(path) if path else str(self.url).split("?", 1)[0]

    def load(self, call: Any) -> Any:
        """Return the payload, or an iterator of records when ``records`` is on."""
        if self.records:
            return self._iter_records(call.timeout)
        with self._open(call.timeout) as lines:
            text = "".join(lines)
        if self.format == "json":
            return parse_json(text, self.source)
        return list(self._parse(iter(text.splitlines(keepends=True))))

    def _open(self, timeout: float) -> Any:
        return open_lines(
            self.path,
            self.url,
            encoding=self.settings.get("encoding", "utf-8"),
            timeout=timeout,
            headers=self.settings.get("headers", {}),
        )

    def _iter_records(self, timeout: float) -> Iterator[dict[str, Any]]:
        with self._open(timeout) as lines:
            if self.format == "json":
                document = parse_json("".join(lines), self.source)
                if not isinstance(document, list):
                    raise ContractError(f"{self.source}: records need a JSON array at the top")
                for index, record in enumerate(document):
                    if not isinstance(record, dict):
                        raise ContractError(f"{self.source}: item {index} is not an object")
                    yield record
                return
            yield from self._parse(lines)

    def _parse(self, lines: Iterator[str]) -> Iterator[dict[str, Any]]:
        if self.format == "csv":
            return parse_csv(lines, self.source, self.settings.get("delimiter", ","))
        return parse_jsonl(lines, self.source)


def load_schema(value: Any, root: Path, key: str) -> Mapping[str, Any] | None:
    """Return the oracle's payload schema: inline, or read from a JSON file."""
    if value is None or isinstance(value, Mapping):
        return value
    path = root / Path(str(value))
    where = f"oracles.{key}.schema"
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{where}: the schema file {path} does not exist",
            hint="fix the path (relative to the config file's folder)",
        ) from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the schema file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: the schema file {path} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{where}: the schema file {path} is not JSON ({exc.msg} at line {exc.lineno})"
        ) from None
    if not isinstance(schema, dict):
        raise ConfigError(f"{where}: the schema file {path} does not hold a JSON object")
    return schema
