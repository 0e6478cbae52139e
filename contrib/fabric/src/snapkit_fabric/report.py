"""Loading a Fabric report: the JSON printed by ``FabricReportExporter.export_json()``.

A report is read from a file or from the standard output of a command, decoded strictly
(UTF-8, no NaN or infinity, no duplicate keys, a JSON object at the top) and checked against
:data:`snapkit_fabric.schema.REPORT_SCHEMA`. Every failure is a
:class:`~snapkit_fabric.errors.FabricSnapshotError` whose message says what to fix.
Loading never writes anything.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from snapkit_fabric._defaults import DEFAULT_COMMAND_TIMEOUT
from snapkit_fabric.errors import FabricSnapshotError
from snapkit_fabric.schema import validate_report

__all__ = [
    "DEFAULT_COMMAND_TIMEOUT",
    "load_report_from_command",
    "load_report_from_file",
    "parse_report",
]

_STDERR_TAIL: Final = 2000


def parse_report(data: bytes | str, *, source: str = "report") -> dict[str, Any]:
    """Decode and validate one Fabric report.

    :param data: the JSON text, as UTF-8 bytes or as ``str``.
    :param source: where the text came from, named in error messages.
    :returns: the report as a ``dict``.
    :raises FabricSnapshotError: when the text is not UTF-8, not strict JSON, not an object,
        or not a valid Fabric report.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FabricSnapshotError(
                f"{source} is not UTF-8 text (byte {exc.start}); "
                "a Fabric report must be JSON encoded as UTF-8"
            ) from exc
    else:
        text = data
    if not text.strip():
        raise FabricSnapshotError(
            f"{source} is empty; expected the JSON of FabricReportExporter.export_json()"
        )
    try:
        report = json.loads(
            text, object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant
        )
    except json.JSONDecodeError as exc:
        raise FabricSnapshotError(
            f"{source} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except _StrictJSONError as exc:
        raise FabricSnapshotError(f"{source} is not strict JSON: {exc}") from exc
    if not isinstance(report, dict):
        raise FabricSnapshotError(
            f"{source} holds a JSON {_json_type(report)}; a Fabric report is a JSON object"
        )
    validate_report(report, source=source)
    return report


def load_report_from_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a Fabric report from a JSON file.

    :param path: the file to read.
    :returns: the validated report.
    :raises FabricSnapshotError: when the file cannot be read or does not hold a valid report.
    """
    file = Path(path)
    try:
        data = file.read_bytes()
    except FileNotFoundError as exc:
        raise FabricSnapshotError(f"Fabric report file {str(file)!r} does not exist") from exc
    except IsADirectoryError as exc:
        raise FabricSnapshotError(
            f"Fabric report path {str(file)!r} is a directory; give the path of a JSON file"
        ) from exc
    except OSError as exc:
        raise FabricSnapshotError(
            f"cannot read Fabric report file {str(file)!r}: {exc.strerror or exc}"
        ) from exc
    return parse_report(data, source=f"Fabric report file {str(file)!r}")


def load_report_from_command(
    command: Sequence[str],
    *,
    timeout: float = DEFAULT_COMMAND_TIMEOUT,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Run *command* and read a Fabric report from its standard output.

    The command runs without a shell and with an empty standard input; its standard error is
    only used in error messages.

    :param command: the program and its arguments, e.g. ``["fabric", "report", "--json"]``.
    :param timeout: seconds before the command is killed (default 60).
    :param cwd: working directory of the command.
    :param env: environment of the command; the current environment when ``None``.
    :returns: the validated report.
    :raises FabricSnapshotError: when the command cannot start, times out, exits non-zero or
        prints something that is not a valid Fabric report.
    """
    import shlex  # here, not at the top: listing plugins imports this module
    import subprocess

    if isinstance(command, str) or not command:
        raise FabricSnapshotError(
            "a Fabric report command must be a non-empty list of arguments, "
            f"e.g. ['fabric', 'report', '--json']; got {command!r}"
        )
    if timeout <= 0:
        raise FabricSnapshotError(f"the command timeout must be positive; got {timeout!r}")
    argv = [os.fspath(part) for part in command]
    shown = shlex.join(argv)
    try:
        completed = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            cwd=cwd,
            env=None if env is None else dict(env),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise FabricSnapshotError(
            f"Fabric report command `{shown}` did not finish within {timeout:g} s and was "
            "killed; raise the timeout or check that the command does not wait for input"
        ) from exc
    except FileNotFoundError as exc:
        raise FabricSnapshotError(
            f"Fabric report command `{shown}` cannot start: {argv[0]!r} was not found; "
            "check the program name and PATH"
        ) from exc
    except OSError as exc:
        raise FabricSnapshotError(
            f"Fabric report command `{shown}` cannot start: {exc.strerror or exc}"
        ) from exc
    if completed.returncode != 0:
        raise FabricSnapshotError(
            f"Fabric report command `{shown}` exited with status {completed.returncode}"
            + _stderr_suffix(completed.stderr)
        )
    return parse_report(completed.stdout, source=f"output of Fabric report command `{shown}`")


class _StrictJSONError(ValueError):
    """JSON that the standard decoder accepts but a Fabric report must not contain."""


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build an object, refusing a key that appears twice (its value would be ambiguous)."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _StrictJSONError(f"the key {key!r} appears twice in one object")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    """Refuse ``NaN``, ``Infinity`` and ``-Infinity``, which are not JSON."""
    raise _StrictJSONError(f"{name} is not a JSON number")


def _json_type(value: Any) -> str:
    """Name the JSON type of a decoded value."""
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "null"


def _stderr_suffix(stderr: bytes) -> str:
    """Return the end of a command's standard error, ready to append to a message."""
    text = stderr.decode("utf-8", errors="replace").strip()
    if not text:
        return " and printed nothing on stderr"
    if len(text) > _STDERR_TAIL:
        text = "..." + text[-_STDERR_TAIL:]
    return f"; stderr: {text}"
