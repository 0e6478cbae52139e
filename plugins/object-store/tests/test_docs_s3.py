"""docs/stores.md's S3 section tells the truth: its configs validate, every setting is there."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema

from snapkit_object_store.plugin import SCHEMA

PAGE = Path(__file__).resolve().parents[3] / "docs" / "stores.md"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.M | re.S)


def _env_as_strings(value: dict[str, Any]) -> dict[str, Any]:
    return {
        k: "from-the-environment" if isinstance(v, dict) and set(v) == {"env"} else v
        for k, v in value.items()
    }


def test_the_s3_configs_on_the_page_validate_against_the_schema() -> None:
    text = PAGE.read_text(encoding="utf-8")
    stores = [
        tomllib.loads(body).get("store") for lang, body in _BLOCK.findall(text) if lang == "toml"
    ]
    s3 = [store for store in stores if store and store.get("kind") == "s3"]
    assert len(s3) >= 2
    for store in s3:
        store.pop("kind")
        jsonschema.validate(_env_as_strings(store), SCHEMA)


def test_the_page_documents_every_s3_setting() -> None:
    text = PAGE.read_text(encoding="utf-8")
    section = text[text.index("### S3 (object storage)") :]
    for name in SCHEMA["properties"]:
        assert f"`{name}`" in section, f"s3 setting {name} is not documented"
