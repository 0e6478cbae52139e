"""The files demo scenario: a product catalogue (CSV) and store settings (JSON) that change."""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from snapkit.demo import SearchExample

COLORS = ("red", "green", "blue", "black", "white", "amber", "teal")
ITEMS = ("lamp", "chair", "desk", "shelf", "rug", "mug", "kettle", "clock", "stool", "vase")

CONFIG = """\
# Written by 'snapkit demo' (files scenario).
[plugins]
blocked = []

[store]
kind = "file"
path = "store"

[scope]
namespace = "catalogue"

[oracles.products]
kind = "files"
path = "source/products.csv"
key_column = "sku"
schema = { type = "object", required = ["sku", "name", "price"] }

[oracles.settings]
kind = "files"
path = "source/settings.json"
"""


class FilesDemo:
    """A catalogue of ``size`` products; :meth:`advance` reprices, adds and drops some."""

    title = "a product catalogue kept in CSV and JSON files"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.size = int(settings.get("size", 1000))
        self.rng = random.Random(20261123)
        self.folder: Path | None = None
        self.products: dict[str, dict[str, str]] = {}
        self.day = 0
        self.next_sku = 0

    def start(self, folder: Path) -> str:
        """Write the source files and return the config."""
        self.folder = folder
        (folder / "source").mkdir(parents=True, exist_ok=True)
        for _ in range(self.size):
            self._add()
        self._write()
        return CONFIG

    def _add(self) -> None:
        self.next_sku += 1
        sku = f"SKU-{self.next_sku:06d}"
        name = f"{self.rng.choice(COLORS)} {self.rng.choice(ITEMS)}"
        self.products[sku] = {
            "sku": sku,
            "name": name,
            "price": f"{self.rng.uniform(3, 300):.2f}",
            "stock": str(self.rng.randint(0, 500)),
        }

    def _write(self) -> None:
        assert self.folder is not None
        with (self.folder / "source" / "products.csv").open(
            "w", newline="", encoding="utf-8"
        ) as handle:
            writer = csv.DictWriter(handle, fieldnames=["sku", "name", "price", "stock"])
            writer.writeheader()
            for sku in sorted(self.products):
                writer.writerow(self.products[sku])
        settings = {"currency": "EUR", "day": self.day, "vat_rate": 0.21 if self.day else 0.2}
        (self.folder / "source" / "settings.json").write_text(
            json.dumps(settings), encoding="utf-8"
        )

    def advance(self) -> str:
        """Reprice 2 %, drop 1 %, add 1 % of the products; change the VAT rate."""
        self.day += 1
        skus = sorted(self.products)
        n = max(1, len(skus) // 100)
        for sku in self.rng.sample(skus, 2 * n):
            self.products[sku]["price"] = f"{self.rng.uniform(3, 300):.2f}"
        for sku in self.rng.sample(sorted(self.products), n):
            del self.products[sku]
        for _ in range(n):
            self._add()
        self._write()
        return f"repriced {2 * n}, dropped {n} and added {n} products; VAT rate 0.2 -> 0.21"

    def searches(self) -> Sequence[SearchExample]:
        """Find lamps by name."""
        return [
            SearchExample(
                "products",
                "name~lamp",
                "products whose name contains 'lamp'",
                ("sku", "name", "price"),
            )
        ]

    def close(self) -> None:
        """Nothing runs in the background."""
