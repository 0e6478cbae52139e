"""write_records: canonical lines, record positions in errors, batches, and the fast check."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from snapkit.canonical import canonical_bytes
from snapkit.errors import ContractError, PayloadValidationError
from snapkit.parts import BATCH, write_records
from snapkit.payloads import RecordCheck, make_check

SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "name": {"type": ["string", "null"]}},
    "required": ["id"],
    "additionalProperties": False,
}


class Collect:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.chunks.append(data)

    def close(self) -> tuple[str, int]:
        data = b"".join(self.chunks)
        return hashlib.sha256(data).hexdigest(), len(data)

    def abort(self) -> None:  # pragma: no cover - not called here
        pass


def records(n: int) -> list[dict[str, Any]]:
    return [{"name": f"n{i}" if i % 3 else None, "id": i} for i in range(n)]


@pytest.mark.parametrize("n", [0, 1, BATCH - 1, BATCH, BATCH + 1, 2 * BATCH + 5])
def test_lines_counts_and_batches(n: int) -> None:
    writer, batches = Collect(), []
    sha, size, count = write_records(
        writer, iter(records(n)), check=make_check(SCHEMA, "r"), on_batch=batches.append
    )
    data = b"".join(canonical_bytes(r) + b"\n" for r in records(n))
    assert (sha, size, count) == (hashlib.sha256(data).hexdigest(), len(data), n)
    assert b"".join(writer.chunks) == data
    expected = list(range(BATCH, n + 1, BATCH))
    if n % BATCH:
        expected.append(n)
    assert batches == expected


def test_a_record_the_fast_predicate_accepts_is_not_checked_again() -> None:
    explained: list[Any] = []

    class Check:
        def accepts(self, value: Any) -> bool:
            return bool(value["id"] != 7)

        def __call__(self, value: Any) -> None:
            explained.append(value["id"])
            raise PayloadValidationError("bad id")

    with pytest.raises(PayloadValidationError, match=r"^record 7: bad id$"):
        write_records(Collect(), records(20), check=Check())
    assert explained == [7]


def test_a_check_without_predicate_sees_every_record() -> None:
    seen: list[int] = []
    write_records(Collect(), records(5), check=lambda r: seen.append(r["id"]))
    assert seen == [0, 1, 2, 3, 4]


def test_an_invalid_record_is_named_by_position_and_rule_not_value() -> None:
    check = make_check(SCHEMA, "oracle 'rows' record")
    assert isinstance(check, RecordCheck)
    rows = records(BATCH + 3)
    rows[BATCH + 1] = {"id": "secret-value"}
    with pytest.raises(PayloadValidationError) as caught:
        write_records(Collect(), rows, check=check)
    message = str(caught.value)
    assert message.startswith(f"record {BATCH + 1}: oracle 'rows' record does not match")
    assert "$.id" in message and "secret" not in message
    assert check.accepts(rows[0]) and not check.accepts(rows[BATCH + 1])
    check(rows[0])


def test_records_that_are_not_objects_or_not_canonical_are_refused() -> None:
    with pytest.raises(ContractError, match=r"^record 2 is a list, not a JSON object"):
        write_records(Collect(), [{"id": 0}, {"id": 1}, [2]])
    with pytest.raises(ContractError, match=r"^record 1 is not canonical JSON"):
        write_records(Collect(), [{"id": 0}, {"id": float("nan")}])
