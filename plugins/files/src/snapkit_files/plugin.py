"""The files plugin's hooks: one oracle per ``[oracles.KEY]`` section with ``kind = "files"``,
and the ``files`` demo scenario.

Importing this module is cheap: the oracle's modules load when a files section is configured.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from snapkit import hookimpl
from snapkit.descriptors import DemoDescriptor, OracleDescriptor
from snapkit.errors import TransientOracleError
from snapkit_files import __version__
from snapkit_files.settings import SETTINGS_SCHEMA, infer_format


@hookimpl
def snapkit_register_oracles(register: Any, config: Any) -> None:
    """Register an oracle for each files section of the configuration."""
    if config is None:
        return
    root: Path = config.root
    sections = [
        (key, section)
        for key, section in sorted(config.settings.get("oracles", {}).items())
        if section.get("kind") == "files"
    ]
    if not sections:
        return
    from snapkit_files.oracle import FilesOracle, load_schema

    for key, section in sections:
        fmt = infer_format(dict(section))
        records = bool(section.get("records", fmt in {"jsonl", "csv"}))
        register(
            OracleDescriptor(
                key=key,
                version=str(section.get("version", __version__)),
                factory=partial(FilesOracle, root=root),
                settings_schema=SETTINGS_SCHEMA,
                description=f"{fmt} from {section.get('path') or 'a URL'}",
                requires=section.get("requires", ()),
                optional=bool(section.get("optional", False)),
                payload_schema=load_schema(section.get("schema"), root, key),
                records=records,
                key_column=section.get("key_column"),
                transient_errors=(TransientOracleError,),
            )
        )


@hookimpl
def snapkit_register_demos(register: Any) -> None:
    """Register the files demo: a product catalogue in CSV and JSON that changes overnight."""
    register(
        DemoDescriptor(
            key="files",
            factory=_make_demo,
            priority=0,
            description="a product catalogue in CSV and JSON files",
        )
    )


def _make_demo(settings: Any) -> Any:
    from snapkit_files.demo import FilesDemo  # here: listing plugins never builds the demo

    return FilesDemo(settings)
