"""The exceptions snapkit raises, as a small hierarchy users can catch at the level they need.

Every error carries a message that names what is wrong and what to do, and an ``exit_code``
the CLI uses (see :mod:`snapkit.exitcodes`). Messages never contain payload values: only
identifiers, keys, paths and statuses.
"""

from __future__ import annotations

from snapkit import exitcodes


class SnapkitError(Exception):
    """Base class of every error snapkit raises on purpose."""

    exit_code: int = exitcodes.FAILURE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}; {self.hint}"
        return self.message


class ConfigError(SnapkitError):
    """The configuration file is missing, unreadable or does not match its schema."""

    exit_code = exitcodes.USAGE


class UsageError(SnapkitError):
    """A command or API call was given arguments it cannot use."""

    exit_code = exitcodes.USAGE


# -- plugins -------------------------------------------------------------------------------


class PluginError(SnapkitError):
    """Something is wrong with a plugin or with the set of plugins."""


class PluginLoadError(PluginError):
    """A plugin failed to import or register (raised only in strict mode)."""


class UnknownHookError(PluginError):
    """A plugin implements a hook name that no specification declares."""


class HookSignatureError(PluginError):
    """A hook implementation takes an argument its specification does not provide."""


class DuplicateKeyError(PluginError):
    """Two plugins registered the same key for the same kind."""


class UnknownKeyError(PluginError):
    """No plugin registered the requested key for a kind."""


# -- contracts and validation ----------------------------------------------------------------


class ContractError(SnapkitError):
    """Data does not fit a snapkit contract (bad JSON form, bad identifier, non-JSON value)."""


class InvalidIdentifierError(ContractError):
    """An identifier (snapshot id, namespace, part name) is malformed or unsafe as a path."""

    exit_code = exitcodes.USAGE


class PayloadValidationError(ContractError):
    """An oracle payload or record does not match the oracle's JSON Schema."""


class PayloadSchemaError(ContractError):
    """An oracle's payload schema is not a valid JSON Schema, so nothing can be checked."""


class IntegrityError(ContractError):
    """A table's records break its integrity: a missing or repeated key, or a table that
    shrank past the allowed threshold. ``reason`` is the error code a snapshot records
    (``missing_key``, ``duplicate_key``, ``table_shrank``)."""

    def __init__(self, message: str, *, reason: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


# -- stores --------------------------------------------------------------------------------


class StoreError(SnapkitError):
    """A snapshot store could not do what was asked."""


class NoSnapshotError(StoreError):
    """There is no successful snapshot yet: run a refresh first."""

    exit_code = exitcodes.NO_SNAPSHOT


class SnapshotNotFoundError(StoreError):
    """No snapshot matches the given id, prefix or reference."""

    exit_code = exitcodes.NO_SNAPSHOT


class AmbiguousSnapshotIdError(StoreError):
    """A snapshot id prefix matches more than one snapshot."""

    exit_code = exitcodes.USAGE


class CorruptSnapshotError(StoreError):
    """Stored bytes do not match their hash, or a stored file cannot be parsed."""


class PointerConflictError(StoreError):
    """The current pointer moved since it was read: the compare-and-swap lost."""


class LockHeldError(StoreError):
    """Another process holds the store's refresh lock: a refresh is already running."""

    exit_code = exitcodes.LOCKED


# -- engine --------------------------------------------------------------------------------


class RefreshError(SnapkitError):
    """A refresh could not produce a snapshot."""


class OracleError(RefreshError):
    """An oracle failed to load its payload."""


class TransientOracleError(OracleError):
    """A failure worth retrying (a network hiccup, a 5xx, a rate limit).

    Oracles raise this (or a subclass) to ask the engine for a retry with backoff; any other
    exception is treated as permanent.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class OracleTimeoutError(OracleError):
    """An oracle call ran past its per-call timeout."""


class DeadlineExceededError(RefreshError):
    """The refresh ran past its total deadline."""


class DiffError(SnapkitError):
    """A diff could not be computed."""


class ProjectionError(SnapkitError):
    """A projection could not be derived."""


class ExportError(SnapkitError):
    """An export could not be produced."""

    def __init__(self, message: str, *, reason: str = "export_error", hint: str | None = None):
        super().__init__(message, hint=hint)
        self.reason = reason


def describe_exception(exc: BaseException) -> str:
    """Describe an exception without its message when the message could hold data values.

    A :class:`SnapkitError` message is ours (it never holds values); an ``OSError`` keeps its
    ``strerror``; a ``UnicodeDecodeError`` keeps the codec, the byte and its position. Any other
    exception (a ``KeyError('ada@example.com')``, a ``jsonschema`` error quoting the instance)
    is named by its type and where it was raised, never by its text.
    """
    if isinstance(exc, SnapkitError):
        return str(exc)
    name = type(exc).__name__
    if isinstance(exc, UnicodeDecodeError):
        byte = exc.object[exc.start : exc.start + 1].hex() if exc.object else "?"
        return (
            f"{name}: the bytes are not {exc.encoding} text "
            f"(byte 0x{byte} at position {exc.start}: {exc.reason})"
        )
    if isinstance(exc, OSError) and exc.strerror:
        return f"{name}: {exc.strerror}"
    import traceback

    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    if frames:
        last = frames[-1]
        where = f"{last.filename.replace(chr(92), '/').rsplit('/', 1)[-1]}:{last.lineno}"
        return f"{name} raised in {last.name} ({where}); its message is not shown, it may hold data"
    return f"{name} (its message is not shown, it may hold data)"
