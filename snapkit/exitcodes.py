"""Exit codes of the ``snapkit`` command, one meaning each (documented in docs/cli.md)."""

OK = 0
"""The command did what was asked (a refresh: the snapshot is ``success``)."""
FAILURE = 1
"""Problems were found, or the command failed (a refresh: the snapshot is ``failed``)."""
USAGE = 2
"""The command line or the configuration is wrong."""
NO_SNAPSHOT = 3
"""A read found no snapshot (none committed yet, or no match for the reference)."""
PARTIAL = 4
"""A refresh committed a ``partial`` snapshot (an optional oracle failed)."""
LOCKED = 5
"""A refresh is already running: another process holds the store's lock."""
