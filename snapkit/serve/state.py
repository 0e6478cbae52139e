"""What every route of the server shares: the project, its refresh runs, the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import field, frozen

if TYPE_CHECKING:
    from snapkit.config import ServeSettings
    from snapkit.project import Project
    from snapkit.serve.api_views import CurrentCache
    from snapkit.serve.ratelimit import SlidingWindowLimiter
    from snapkit.serve.runs import RefreshRuns


@frozen
class ServeState:
    """The app's one piece of state, built by :func:`snapkit.serve.app.create_app`.

    :param project: the project every answer is read from (reads never fetch).
    :param runs: the refresh runs started through the admin endpoint, with their progress.
    :param settings: the ``[serve]`` settings in force.
    :param token: the admin token in force (``serve.token`` or ``$SNAPKIT_SERVE_TOKEN``),
        ``None`` when admin refresh is disabled. Never logged or shown.
    :param limiter: the admin endpoint's rate limit (``serve.refresh_per_minute``).
    :param current: the current snapshot's summary, cached by pointer generation.
    """

    project: Project
    runs: RefreshRuns
    settings: ServeSettings
    token: str | None = field(default=None, repr=False)
    limiter: SlidingWindowLimiter = field(default=None)
    current: CurrentCache = field(default=None)
