"""Validation of oracle payloads and records against their JSON Schema.

Messages name where a value failed and which rule, never the value itself: payloads can hold
personal data and error messages end up in logs and snapshots.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from snapkit.errors import PayloadSchemaError, PayloadValidationError

Check = Callable[[Any], None]


def fast_is_valid(schema: Mapping[str, Any]) -> Callable[[Any], bool] | None:
    """Return a compiled draft 2020-12 ``is_valid`` from the optional ``jsonschema-rs``
    accelerator (``pip install snapkit-core[fast]``), or ``None`` if it is not installed.

    It answers only valid/invalid; messages still come from :mod:`jsonschema`, so they are the
    same with or without the accelerator.
    """
    try:
        import jsonschema_rs
    except ImportError:
        return None
    try:
        compiled = jsonschema_rs.Draft202012Validator(dict(schema))
    except Exception:  # a schema the accelerator cannot compile: use jsonschema alone
        return None
    is_valid: Callable[[Any], bool] = compiled.is_valid
    return is_valid


class RecordCheck:
    """Raises :class:`PayloadValidationError` for a value that does not match the schema
    (call it); :attr:`accepts` answers only yes or no, faster, for callers that check many
    values and explain only the failures.

    :ivar accepts: ``accepts(value)`` is ``True`` when the value is valid.
    """

    __slots__ = ("_validator", "_what", "accepts")

    def __init__(self, schema: Mapping[str, Any], what: str) -> None:
        import jsonschema

        try:
            jsonschema.Draft202012Validator.check_schema(dict(schema))
        except jsonschema.SchemaError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
            raise PayloadSchemaError(
                f"{what} schema is not a valid JSON Schema ({exc.message} at {where})",
                hint="fix the schema; 'snapkit plugins validate' checks every oracle's schema",
            ) from None
        self._validator = jsonschema.Draft202012Validator(dict(schema))
        self._what = what
        self.accepts: Callable[[Any], bool] = fast_is_valid(schema) or self._validator.is_valid

    def __call__(self, value: Any) -> None:
        if self.accepts(value):
            return
        import jsonschema

        error = jsonschema.exceptions.best_match(self._validator.iter_errors(value))
        if error is None:  # pragma: no cover - is_valid and iter_errors agree
            return
        where = "$" + "".join(
            f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path
        )
        rule = error.validator
        expected = error.validator_value if rule in {"type", "required", "enum"} else None
        detail = f"{rule}={expected!r}" if expected is not None else str(rule)
        raise PayloadValidationError(
            f"{self._what} does not match its schema at {where} ({detail})",
            hint="fix the source data or the oracle's payload schema",
        )


def make_check(schema: Mapping[str, Any] | None, what: str) -> RecordCheck | None:
    """Return a function that raises :class:`PayloadValidationError` for invalid values.

    :raises PayloadSchemaError: if ``schema`` is not a valid JSON Schema (checked here, so
        that no validator error, which quotes the value it checked, is ever raised).

    :param schema: a JSON Schema (draft 2020-12), or ``None`` for no validation.
    :param what: how messages name the value, e.g. ``"oracle 'users' record"``.
    """
    if schema is None:
        return None
    return RecordCheck(schema, what)
