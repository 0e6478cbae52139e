"""Parts read whole as tables (``StoreReader.read_all``, which the dashboard's gradebook
index reads through ``inputs.table``) give exactly the records streamed from the store,
whichever JSON decoder reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from snapkit.projection import StoreReader
from snapkit.testing.engine import OraclePlugin, make_project

RECORDS = [
    {
        "id": "a",
        "big": 123456789012345678901234567890,
        "neg": -9223372036854775809,
        "max": 9223372036854775807,
        "float": 0.1,
        "tiny": 5e-324,
        "text": 'naïve \u2603 "q"',
    },
    {"id": "b", "big": 18446744073709551616, "nested": {"list": [1, 2.5, None, True]}},
]


@pytest.mark.parametrize(
    "records",
    [RECORDS, [{"id": str(i), "score": i * 0.1, "n": i} for i in range(500)]],
    ids=["long-integers", "ordinary"],
)
def test_a_part_read_as_a_table_equals_the_streamed_records(tmp_path: Path, records):
    oracles = OraclePlugin()
    oracles.add("things", lambda call: iter(records), records=True, key_column="id")
    project = make_project(tmp_path, oracles, config={"scope": {"namespace": "t"}})
    outcome = project.refresh()
    assert outcome.status == "success", outcome.errors
    (part,) = outcome.manifest.parts
    reader = StoreReader(project.store)
    table = reader.read_all(part)
    assert table == list(reader(part))
    assert sorted(table, key=lambda r: r["id"]) == sorted(records, key=lambda r: r["id"])
    for got, streamed in zip(table, reader(part), strict=True):
        for key, value in streamed.items():
            assert type(got[key]) is type(value) and got[key] == value


def test_a_table_read_refuses_a_part_replaced_by_another_well_formed_one(tmp_path: Path):
    # zstd's own checksum cannot see this: the file is a sound frame of other records
    import zstandard

    from snapkit.errors import CorruptSnapshotError

    oracles = OraclePlugin()
    oracles.add("things", lambda call: iter(RECORDS), records=True, key_column="id")
    project = make_project(tmp_path, oracles, config={"scope": {"namespace": "t"}})
    (part,) = project.refresh().manifest.parts
    other = b'{"id":"a"}\n{"id":"b"}\n'
    path = project.store.layout.part(part.sha256)
    path.chmod(0o644)
    path.write_bytes(zstandard.ZstdCompressor(write_checksum=True).compress(other))
    with pytest.raises(CorruptSnapshotError):
        StoreReader(project.store).read_all(part)
