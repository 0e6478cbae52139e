"""What every route of the server shares: the project, its refresh runs, the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import frozen

if TYPE_CHECKING:
    from snapkit.config import ServeSettings
    from snapkit.project import Project
    from snapkit.serve.runs import RefreshRuns


@frozen
class ServeState:
    """The app's one piece of state, built by :func:`snapkit.serve.app.create_app`.

    :param project: the project every answer is read from (reads never fetch).
    :param runs: the refresh runs started through the admin endpoint, with their progress.
    :param settings: the ``[serve]`` settings in force (token resolved, never logged).
    """

    project: Project
    runs: RefreshRuns
    settings: ServeSettings
