"""The as-of dates of the current snapshot, for the check that new data is not older.

The engine gives an oracle's ``load`` the scope, its settings and the results of the oracles it
requires -- not the store, nor the current snapshot. The plugin gets the loaded configuration
when it registers its oracles, though, and the configuration names the store. So the collector
opens the configured store the way a host does (its plugins from entry points, then
``store.latest_successful()``: a read, which never fetches) and reads the ``tm_metadata``
payload of the current snapshot: a small payload in the manifest, no part is read.
"""

from __future__ import annotations

from typing import Any

from snapkit.errors import SnapkitError
from snapkit_toastmasters.collect import baseline_of
from snapkit_toastmasters.errors import BaselineError
from snapkit_toastmasters.settings import METADATA


def current_as_of(config: Any) -> dict[str, str] | None:
    """District -> data as-of date (ISO) of the current snapshot of the store ``config``
    names; ``None`` when there is no current snapshot or it holds no Toastmasters data.

    :raises BaselineError: if the store cannot be opened or read.
    """
    from snapkit.manager import PluginManager
    from snapkit.project import Project

    try:
        manager = PluginManager(config.plugins, config)
        manager.load_entry_points()
        manifest = Project(config, manager).store.latest_successful()
    except SnapkitError as exc:
        raise BaselineError(f"cannot read the current snapshot to compare as-of dates: {exc}",
                            hint="fix the store, or set check_as_of = false in "
                            "[oracles.toastmasters]") from None
    if manifest is None:
        return None
    return baseline_of(manifest.payloads.get(METADATA))
