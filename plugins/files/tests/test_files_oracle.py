"""The files oracle: formats, paths relative to the config's folder, URLs and their errors."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from snapkit.errors import ContractError, OracleError, TransientOracleError
from snapkit_files.oracle import FilesOracle

CALL = SimpleNamespace(timeout=5.0)


def load(settings: dict[str, Any], root: Path) -> Any:
    result = FilesOracle({"kind": "files", **settings}, root).load(CALL)
    return result if isinstance(result, (dict, str, int, float)) else list(result)


def test_jsonl_is_a_record_stream_relative_to_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "users.jsonl").write_text('{"id": 1}\n\n{"id": 2}\n', encoding="utf-8")
    assert load({"path": "users.jsonl"}, tmp_path) == [{"id": 1}, {"id": 2}]


def test_csv_rows_are_records_keyed_by_the_header(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("\ufeffsku;name\nA1;Mug\nB2;Pen\n", encoding="utf-8")
    rows = load({"path": "p.csv", "delimiter": ";"}, tmp_path)
    assert rows == [{"sku": "A1", "name": "Mug"}, {"sku": "B2", "name": "Pen"}]


def test_a_json_document_is_one_payload(tmp_path: Path) -> None:
    (tmp_path / "cfg.json").write_text('{"a": [1, 2]}', encoding="utf-8")
    assert load({"path": "cfg.json"}, tmp_path) == {"a": [1, 2]}


def test_a_csv_row_of_the_wrong_width_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("a,b\n1,2\n3\n", encoding="utf-8")
    with pytest.raises(ContractError, match="row 3 has 1 fields"):
        load({"path": "p.csv"}, tmp_path)


def test_a_missing_file_is_an_oracle_error_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(OracleError, match="does not exist") as caught:
        load({"path": "nowhere.json"}, tmp_path)
    assert "'path'" in str(caught.value.hint)


def test_bytes_the_encoding_cannot_decode_name_the_line(tmp_path: Path) -> None:
    (tmp_path / "u.jsonl").write_bytes(b'{"id": 1}\n{"n": "\xe9"}\n')
    with pytest.raises(OracleError, match="line 2"):
        load({"path": "u.jsonl"}, tmp_path)
    assert load({"path": "u.jsonl", "encoding": "latin-1"}, tmp_path)[1] == {"n": "\u00e9"}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/busy"):
            self.send_response(503)
            self.send_header("Retry-After", "7")
            self.end_headers()
            return
        body = b'{"id": "a"}\n{"id": "b"}\n'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_url_streams_its_records(server: str, tmp_path: Path) -> None:
    assert load({"url": f"{server}/users.jsonl"}, tmp_path) == [{"id": "a"}, {"id": "b"}]


def test_a_busy_server_is_transient_and_the_query_string_stays_out(
    server: str, tmp_path: Path
) -> None:
    with pytest.raises(TransientOracleError) as caught:
        load({"url": f"{server}/busy.json?token=secret"}, tmp_path)
    assert caught.value.retry_after == 7.0
    assert "secret" not in str(caught.value)
