"""``snapkit diff A B``: what changed between two snapshots, as text, JSON or Markdown.

The renderers here are plain functions of a :class:`snapkit.contracts.Diff`, so the HTTP
server and hosts can show a diff the same way the CLI does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import click

from snapkit.cli.output import short

FORMATS = ("text", "json", "markdown")


@click.command()
@click.argument("from_ref", metavar="A")
@click.argument("to_ref", metavar="B")
@click.option(
    "--section",
    "-s",
    "sections",
    multiple=True,
    metavar="NAME",
    help="Only this section; repeatable (default: every section that applies).",
)
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="Output format; json is the canonical diff.",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option(
    "--max-items",
    type=click.IntRange(min=0),
    metavar="N",
    help="List at most N items per list of changes (counts stay exact).",
)
@click.pass_obj
def diff(
    state: Any,
    from_ref: str,
    to_ref: str,
    sections: tuple[str, ...],
    fmt: str,
    as_json: bool,
    max_items: int | None,
) -> None:
    """Show what changed from snapshot A to snapshot B. Never fetches or writes anything.

    A and B are each a snapshot id or a unique prefix of it, 'current', 'current~N' (the
    snapshot the current pointer named N moves back), 'latest' or a date YYYY-MM-DD (the last
    snapshot of that UTC day that became current). Deltas are B - A.

    \b
    Examples:
      snapkit diff current~1 current
      snapkit diff 2024-12-28 2024-12-29 --section table --max-items 20
      snapkit diff 3f2a9c current --json
    """
    from snapkit.diff import diff_bytes

    project = state.project()
    result = project.diff(from_ref, to_ref, sections=sections or None, max_items=max_items)
    if as_json or fmt == "json":
        click.echo(diff_bytes(result).decode("utf-8"))
    elif fmt == "markdown":
        click.echo(render_markdown(result), nl=False)
    else:
        click.echo(render_text(result), nl=False)


# -- rendering -----------------------------------------------------------------------------


def render_text(diff: Any) -> str:
    """Render a diff for a person: the counts first, then each section's changes."""
    lines = [f"diff {short(diff.from_id)} -> {short(diff.to_id)}"]
    if not diff.sections:
        lines.append("no section applies to these snapshots")
        return "\n".join(lines) + "\n"
    width = max(len(s.name) for s in diff.sections)
    for s in diff.sections:
        note = "  (lists truncated)" if s.truncated else ""
        lines.append(
            f"  {s.name:<{width}}  +{s.added} added  -{s.removed} removed  "
            f"~{s.changed} changed{note}"
        )
    for s in diff.sections:
        lines.append("")
        lines.append(f"== {s.name} ==")
        body = list(_changes(s.name, s.data))
        lines.extend(f"  {line}" for line in body) if body else lines.append("  no changes")
    return "\n".join(lines) + "\n"


def render_markdown(diff: Any) -> str:
    """Render a diff as Markdown: a counts table, then a list of changes per section."""
    lines = [
        f"# Diff `{short(diff.from_id)}` → `{short(diff.to_id)}`",
        "",
        "| section | added | removed | changed | truncated |",
        "|---|---:|---:|---:|---|",
    ]
    for s in diff.sections:
        lines.append(
            f"| {s.name} | {s.added} | {s.removed} | {s.changed} | "
            f"{'yes' if s.truncated else 'no'} |"
        )
    for s in diff.sections:
        lines += ["", f"## {s.name}", ""]
        body = list(_changes(s.name, s.data))
        lines.extend(f"- `{line}`" for line in body) if body else lines.append("No changes.")
    return "\n".join(lines) + "\n"


def _changes(name: str, data: Any) -> Iterator[str]:
    """Lines describing a section's changes, skipping what did not change."""
    if name == "summary" and isinstance(data, dict):
        yield from _summary(data)
    elif name == "table" and isinstance(data, dict) and isinstance(data.get("tables"), dict):
        yield from _tables(data["tables"])
    elif name == "json" and isinstance(data, dict) and "changed" in data:
        yield from _json(data)
    else:
        yield from _generic(data, "")


def _value(value: Any) -> str:
    from snapkit.canonical import canonical_str

    return value if isinstance(value, str) else canonical_str(value)


def _signed(value: Any) -> str:
    return f"+{value}" if isinstance(value, int | float) and value > 0 else str(value)


def _summary(data: dict[str, Any]) -> Iterator[str]:
    for fact, pair in data.get("snapshot", {}).items():
        if isinstance(pair, dict) and pair.get("from") != pair.get("to"):
            yield f"{fact}: {_value(pair.get('from'))} -> {_value(pair.get('to'))}"
    for part, info in data.get("parts", {}).items():
        if info.get("status") != "unchanged":
            old, new = info.get("from") or {}, info.get("to") or {}
            yield (
                f"part {part}: {info.get('status')}, records {old.get('records', 0)} -> "
                f"{new.get('records', 0)} ({_signed(info.get('records_delta'))}), bytes "
                f"{_signed(info.get('bytes_delta'))}"
            )
    for key, info in data.get("payloads", {}).items():
        if info.get("status") != "unchanged":
            yield f"payload {key}: {info.get('status')}"


def _tables(tables: dict[str, Any]) -> Iterator[str]:
    for table, info in tables.items():
        status = info.get("status")
        if status == "unchanged":
            continue
        counts = info.get("counts", {})
        yield (
            f"table {table} ({status}): +{counts.get('added', 0)} -{counts.get('removed', 0)}"
            f" ~{counts.get('changed', 0)} rows"
        )
        for key in info.get("added", []):
            yield f"  + {_value(key)}"
        for key in info.get("removed", []):
            yield f"  - {_value(key)}"
        for row in info.get("changed", []):
            yield f"  ~ {_value(row.get('key'))}"
            for field_name, change in row.get("fields", {}).items():
                yield f"      {field_name}: {_pair(change)}"
        if info.get("truncated"):
            yield "  ... (more; raise --max-items to list them)"


def _json(data: dict[str, Any]) -> Iterator[str]:
    for entry in data.get("added", []):
        yield f"+ {entry['path']} = {_value(entry.get('value'))}"
    for entry in data.get("removed", []):
        yield f"- {entry['path']} (was {_value(entry.get('value'))})"
    for entry in data.get("changed", []):
        yield f"~ {entry['path']}: {_pair(entry)}"
    for entry in data.get("items", []):
        for item in entry.get("added", []):
            yield f"+ {entry['path']}[] {_value(item)}"
        for item in entry.get("removed", []):
            yield f"- {entry['path']}[] {_value(item)}"


def _pair(change: dict[str, Any]) -> str:
    old = _value(change["from"]) if "from" in change else "(missing)"
    new = _value(change["to"]) if "to" in change else "(missing)"
    text = f"{old} -> {new}"
    if "delta" in change:
        text += f" ({_signed(change['delta'])})"
    return text


def _generic(data: Any, path: str) -> Iterator[str]:
    """Flatten any section's data into ``path: value`` lines (zero deltas and empty lists
    are changes of nothing and are left out)."""
    if isinstance(data, dict):
        if not data and path:
            return
        for key, value in data.items():
            yield from _generic(value, f"{path}.{key}" if path else key)
    elif isinstance(data, list):
        if data:
            yield f"{path}: {', '.join(_value(item) for item in data)}"
    elif path.endswith("delta") and data == 0:
        return
    elif data is not None:
        yield f"{path}: {_signed(data) if path.endswith('delta') else _value(data)}"
