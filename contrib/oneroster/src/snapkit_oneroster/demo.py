"""The ``oneroster`` demo scenario: a synthetic district served on loopback over OneRoster 1.1.

``snapkit demo`` starts the local server (``--users`` users, 5,000 by default) on a free
port in a background thread, refreshes the whole district into a store, advances the district
a day, refreshes again, searches guardians with their children, and exports one class's
instructor dashboard (when ``snapkit-instructor-dashboard`` is installed). The client secret
is random; the config names it through an environment variable, never in the file.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from snapkit.demo import DemoExport, SearchExample

SECRET_ENV = "SNAPKIT_DEMO_ONEROSTER_SECRET"
"""The environment variable the demo's config reads the client secret from."""

SEED = 2025

DASHBOARD_PROFILE = "instructor_dashboard"
DASHBOARD_ORACLES = (
    "dashboard_class",
    "dashboard_roster",
    "dashboard_line_items",
    "dashboard_results",
)
"""The instructor-dashboard plugin's export profile and oracles (the first one's settings
serve all four), named by key: the demo works, skipping its export, without that plugin."""

CONFIG = """\
# Written by 'snapkit demo' (oneroster scenario): a synthetic district served on loopback.
[store]
kind = "file"
path = "store"

[scope]
namespace = "demo-district"

[oracles.oneroster]
base_url = "{base_url}"
auth = "oauth2"
token_url = "{token_url}"
client_id = "{client_id}"
client_secret = {{ env = "{env}" }}
page_size = 2000

[search]
index = {{ users = ["email", "familyName"] }}
"""


class OneRosterDemo:
    """A district of ``settings["size"]`` users (default 5,000) behind a local server."""

    title = "a school district over the OneRoster 1.1 REST API (local server)"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.size = int(settings.get("size", 5000))
        self.server: Any = None
        self.family = "Garcia"

    def start(self, folder: Path) -> str:
        """Generate the district, serve it on a free loopback port, return the config."""
        from snapkit_oneroster.district import District
        from snapkit_oneroster.relations import build_households
        from snapkit_oneroster.server import serve

        district = District.generate(seed=SEED, users=max(self.size, 20))
        secret = secrets.token_urlsafe(24)
        self.server = serve(district, auth="both", client_secret=secret)
        os.environ[SECRET_ENV] = secret
        households = build_households(district.records("users"))
        for guardian in sorted(households.children):
            family = district.value("users", guardian, "familyName")
            if family:
                self.family = str(family)
                break
        return CONFIG.format(
            base_url=self.server.base_url,
            token_url=self.server.token_url,
            client_id=self.server.client_id,
            env=SECRET_ENV,
        )

    def advance(self) -> str:
        """Move the district a school day on; say what changed."""
        (change,) = self.server.advance_day()
        return (
            f"day {change.day} ({change.date}): {len(change.students_added)} students joined, "
            f"{len(change.students_withdrawn)} withdrew, {len(change.emails_changed)} emails "
            f"changed, {len(change.line_items_added)} line items added, "
            f"{len(change.results_added)} results added, {len(change.results_updated)} regraded"
        )

    def searches(self) -> Sequence[SearchExample]:
        """Guardians of one family with their children, and teachers by family name."""
        return [
            SearchExample(
                "guardians",
                f"familyName={self.family}",
                f"guardians named {self.family}, each with the children linked through agents",
                ("givenName", "familyName", "role", "children.givenName"),
            ),
            SearchExample(
                "users",
                f"role=teacher familyName^={self.family[:3]}",
                f"teachers whose family name starts with {self.family[:3]!r}",
                ("givenName", "familyName", "email"),
            ),
        ]

    def exports(self, project: Any) -> Sequence[DemoExport]:
        """One class's instructor dashboard: the first class with a gradebook, refreshed
        through the ``dashboard_*`` oracles against the same local server and exported with
        the ``instructor_dashboard`` profile (both from ``snapkit-instructor-dashboard``,
        named by key only, so this scenario does not import it)."""
        from snapkit.contracts import Scope

        district = self.server.district
        items = district.ids("lineItems")
        if not items:
            return []
        context = district.value("lineItems", items[0], "class")
        settings = {
            "base_url": self.server.base_url,
            "auth": "oauth2",
            "token_url": self.server.token_url,
            "client_id": self.server.client_id,
            "client_secret": {"env": SECRET_ENV},
            "page_size": 2000,
        }
        code = district.value("classes", context, "classCode")
        return [
            DemoExport(
                name=context,
                profile=DASHBOARD_PROFILE,
                scope=Scope(project.config.scope.namespace, context),
                oracles=DASHBOARD_ORACLES,
                config={"oracles": {DASHBOARD_ORACLES[0]: settings}},
                explain=f"the instructor dashboard of class {code} ({context})",
                plugin="snapkit-instructor-dashboard",
            )
        ]

    def close(self) -> None:
        """Stop the server."""
        if self.server is not None:
            self.server.close()
            self.server = None
