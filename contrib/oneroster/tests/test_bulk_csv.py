"""The CSV bulk binding: an export read back gives exactly the records the REST client gives."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from snapkit_oneroster.bulk_csv import BulkReader, write_bulk_csv
from snapkit_oneroster.client import OneRosterClient
from snapkit_oneroster.district import District
from snapkit_oneroster.errors import BulkFormatError, RecordFormatError
from snapkit_oneroster.schema import TABLES
from snapkit_oneroster.server import ServerHandle, serve


def canonical(records: list[dict]) -> bytes:
    """Records as a snapshot part would hold them: canonical JSON lines."""
    return b"".join(
        json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        for r in records
    )


@pytest.fixture(scope="module")
def bulk_zip(server: ServerHandle, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bulk") / "export.zip"
    path.write_bytes(httpx.get(server.url + "/__admin/bulk.zip", timeout=60).content)
    return path


@pytest.mark.parametrize("table", sorted(TABLES))
def test_bulk_export_read_back_equals_the_rest_records(
    make_client: Callable[..., OneRosterClient], bulk_zip: Path, table: str
) -> None:
    rest = list(make_client(page_size=5000).iter_records(table))
    with BulkReader(bulk_zip) as bulk:
        csv_records = list(bulk.iter_records(table))
    assert csv_records == rest
    assert canonical(csv_records) == canonical(rest)


def test_folder_export_equals_zip_export(
    district: District, bulk_zip: Path, tmp_path: Path
) -> None:
    folder = write_bulk_csv(district.tables(), tmp_path / "export")
    assert (folder / "manifest.csv").is_file()
    with BulkReader(folder) as from_folder, BulkReader(bulk_zip) as from_zip:
        assert from_folder.tables == from_zip.tables == tuple(TABLES)
        for table in ("users", "results"):
            assert list(from_folder.iter_records(table)) == list(from_zip.iter_records(table))


def test_export_after_days_of_change_still_equals_rest(tmp_path: Path) -> None:
    district = District.generate(seed=21, users=600)
    for _ in range(3):
        district.advance_day()
    with serve(district) as own:
        client = OneRosterClient.oauth2(
            own.base_url, own.token_url, own.client_id, own.client_secret
        )
        with client, BulkReader(write_bulk_csv(district.tables(), tmp_path / "x.zip")) as bulk:
            for table in TABLES:
                assert list(bulk.iter_records(table)) == list(client.iter_records(table))


def test_manifest_lists_every_table_and_the_version(district: District, tmp_path: Path) -> None:
    folder = write_bulk_csv({"orgs": district.records("orgs")}, tmp_path / "only-orgs")
    manifest = (folder / "manifest.csv").read_text().splitlines()
    assert manifest[0] == "propertyName,value"
    assert "oneroster.version,1.1" in manifest
    assert "file.orgs,bulk" in manifest and "file.users,absent" in manifest
    with BulkReader(folder) as bulk:
        assert bulk.tables == ("orgs",)
        with pytest.raises(BulkFormatError, match="absent"):
            list(bulk.iter_records("users"))


def test_reader_refuses_an_export_without_manifest(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "x.zip", "w") as zf:
        zf.writestr("users.csv", "sourcedId\n")
    with pytest.raises(BulkFormatError, match="no manifest"):
        BulkReader(tmp_path / "x.zip")


def test_reader_refuses_delta_exports(tmp_path: Path) -> None:
    (tmp_path / "manifest.csv").write_text(
        "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.users,delta\n"
    )
    with pytest.raises(BulkFormatError, match="delta"):
        BulkReader(tmp_path)


def test_reader_names_missing_columns_and_bad_rows(tmp_path: Path) -> None:
    (tmp_path / "manifest.csv").write_text(
        "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.orgs,bulk\n"
    )
    (tmp_path / "orgs.csv").write_text("sourcedId,name\no1,Somewhere\n")
    with BulkReader(tmp_path) as bulk, pytest.raises(BulkFormatError, match="lacks status"):
        list(bulk.iter_records("orgs"))
    header = "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\n"
    (tmp_path / "orgs.csv").write_text(header + "o1,active,,Somewhere,school\n")
    with BulkReader(tmp_path) as bulk, pytest.raises(BulkFormatError, match="row 2"):
        list(bulk.iter_records("orgs"))


def test_reader_normalizes_boolean_and_list_cells(tmp_path: Path) -> None:
    (tmp_path / "manifest.csv").write_text(
        "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.users,bulk\n"
    )
    columns = ",".join(TABLES["users"].columns)
    row = 'u1,active,,FALSE,"o1,o2",student,kid,"{SIS:7},{LDAP:k}",Kim,Lee,,7,,,,"g1,g2","09,10"'
    (tmp_path / "users.csv").write_text(f"{columns}\n{row}\n")
    with BulkReader(tmp_path) as bulk:
        (user,) = bulk.iter_records("users")
    assert user["enabledUser"] is False
    assert user["orgs"] == [{"sourcedId": "o1", "type": "org"}, {"sourcedId": "o2", "type": "org"}]
    assert user["userIds"] == [
        {"type": "SIS", "identifier": "7"},
        {"type": "LDAP", "identifier": "k"},
    ]
    assert user["agents"][1] == {"sourcedId": "g2", "type": "user"}
    assert user["grades"] == ["09", "10"] and user["middleName"] is None
    (tmp_path / "users.csv").write_text(f"{columns}\n{row.replace('FALSE', 'perhaps')}\n")
    with BulkReader(tmp_path) as bulk, pytest.raises(RecordFormatError, match="position 0"):
        list(bulk.iter_records("users"))
