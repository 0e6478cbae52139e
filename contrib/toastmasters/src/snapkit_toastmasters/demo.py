"""The ``toastmasters`` demo scenario: three districts behind a local dashboard.

``snapkit demo --scenario toastmasters`` starts the dashboard (``--users`` is read as the
number of clubs in all, split over three districts; 50 per district at least), refreshes,
advances the dashboard a month, refreshes again, shows the membership changes, searches the
clubs, and exports the ``toastmasters`` profile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from snapkit.demo import DemoExport, SearchExample

DISTRICTS = ("61", "62", "63")
PROGRAM_YEAR = "2026-2027"

CONFIG = """\
# Written by 'snapkit demo' (toastmasters scenario): three districts on a local dashboard.
[store]
kind = "file"
path = "store"

[scope]
namespace = "toastmasters"

[oracles.toastmasters]
base_url = "{base_url}"
districts = {districts}
program_year = "{program_year}"

[search]
index = {{ clubs = ["club_name", "status"] }}
"""


class ToastmastersDemo:
    """Three districts of ``settings["size"] // 3`` clubs (50 at least) on a local dashboard."""

    title = "Toastmasters district statistics from the dashboard's CSV exports (local server)"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.clubs = max(50, int(settings.get("size", 450)) // 3)
        self.server: Any = None

    def start(self, folder: Path) -> str:
        """Serve the districts on a free loopback port; return the config."""
        from snapkit_toastmasters.generator import Dashboard
        from snapkit_toastmasters.server import serve

        dashboard = Dashboard.generate(DISTRICTS, self.clubs, program_year=PROGRAM_YEAR)
        self.server = serve(dashboard)
        districts = "[" + ", ".join(f'"{d}"' for d in DISTRICTS) + "]"
        return CONFIG.format(
            base_url=self.server.base_url, districts=districts, program_year=PROGRAM_YEAR
        )

    def advance(self) -> str:
        """Move the dashboard to the next month."""
        from snapkit_toastmasters.generator import MONTH_NAMES

        month = self.server.advance()
        return f"the dashboard moved to the month of {MONTH_NAMES[month]}"

    def searches(self) -> Sequence[SearchExample]:
        """Low clubs, and clubs by name."""
        return [
            SearchExample(
                "clubs",
                "status=low",
                "clubs whose status is Low",
                ("club_number", "club_name", "district_id", "active_members"),
            ),
            SearchExample(
                "clubs",
                "club_name^=Golden",
                "clubs whose name starts with Golden",
                ("club_number", "club_name", "distinguished"),
            ),
        ]

    def exports(self, project: Any) -> Sequence[DemoExport]:
        """The ``toastmasters`` profile (ranking, club health, clubs at risk) of the same
        districts, clubs under 15 members counted at risk."""
        from snapkit.contracts import Scope

        section = dict(project.config.settings["oracles"]["toastmasters"])
        return [
            DemoExport(
                name="toastmasters",
                profile="toastmasters",
                scope=Scope(
                    project.config.scope.namespace,
                    "all-districts",
                    filters={"member_threshold": 15},
                ),
                oracles=("toastmasters",),
                config={"oracles": {"toastmasters": section}},
                explain="district ranking and club health, clubs under 15 members at risk",
                plugin="snapkit-toastmasters",
            )
        ]

    def close(self) -> None:
        """Stop the server."""
        if self.server is not None:
            self.server.close()
            self.server = None
