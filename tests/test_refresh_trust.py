"""Issue 11, defects 4, 5, 7 and 8 as a user hits them: real config files, the files oracle,
the CLI (``snapkit.cli.main.main`` under click's CliRunner isolation).

- no record value in an error, a manifest, the history or the CLI's output;
- keys checked before commit (missing, null, repeated), a UTF-8 BOM dropped;
- a table that shrinks past ``refresh.max_shrink`` fails unless ``refresh.allow_shrink``;
- config problems exit 2 and say what is wrong.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from snapkit.cli.main import main
from snapkit.errors import describe_exception

CONFIG = """\
[plugins]
enabled = ["file-store", "files", "diff-sections"]

[store]
kind = "file"
path = "store"

[oracles.users]
kind = "files"
path = "users.csv"
key_column = "id"
"""

PEOPLE = [
    ("1", "Ada Lovelace", "ada@example.com"),
    ("2", "Grace Hopper", "grace@example.com"),
    ("3", "Alan Turing", "alan@example.com"),
]
VALUES = [value for row in PEOPLE for value in row[1:]]


class Ran:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> Any:
        return json.loads(self.out)

    def __repr__(self) -> str:
        return f"<exit {self.code}\nstdout: {self.out}\nstderr: {self.err}>"


def snapkit(folder: Path, *args: str) -> Ran:
    """Run ``snapkit -c FOLDER/snapkit.toml ARGS`` as the console script does."""
    runner = CliRunner()
    with runner.isolation() as streams:
        try:
            main(["-c", str(folder / "snapkit.toml"), *args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = streams[0].getvalue(), streams[1].getvalue()
    return Ran(code, out.decode(), err.decode())


def write_users(
    folder: Path, rows: list[tuple[str, ...]], header: str = "id,name,email", prefix: str = ""
) -> None:
    lines = [prefix + header, *(",".join(row) for row in rows)]
    (folder / "users.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "snapkit.toml").write_text(CONFIG)
    write_users(tmp_path, PEOPLE)
    return tmp_path


def stored_text(folder: Path) -> str:
    """Every byte the store keeps about snapshots (manifests, history, pointer), as text."""
    return "\n".join(
        p.read_text(errors="replace")
        for p in sorted((folder / "store").rglob("*"))
        if p.is_file() and p.suffix in {".json", ".jsonl", ""}
    )


def assert_no_values(*texts: str) -> None:
    for text in texts:
        for value in VALUES:
            assert value not in text, f"{value!r} leaked into: {text[:400]}"


def current_id(folder: Path) -> str | None:
    done = snapkit(folder, "snapshots", "current", "--json")
    return done.json()["id"] if done.code == 0 else None


# -- defect 4: values never leak ----------------------------------------------------------------


def test_a_broken_payload_schema_fails_without_a_record_value_anywhere(folder: Path) -> None:
    (folder / "snapkit.toml").write_text(CONFIG + 'schema = { type = "objekt" }\n')
    done = snapkit(folder, "refresh")
    assert done.code == 1, done
    assert "invalid_schema" in done.err and "not a valid JSON Schema" in done.err
    listed = snapkit(folder, "snapshots", "show", "latest", "--json")
    assert listed.json()["errors"][0]["code"] == "invalid_schema"
    assert_no_values(done.out, done.err, listed.out, stored_text(folder))


def test_a_record_failing_a_valid_schema_is_named_by_position_and_field(folder: Path) -> None:
    (folder / "snapkit.toml").write_text(
        CONFIG + 'schema = { type = "object", properties = { email = { pattern = "^x" } } }\n'
    )
    done = snapkit(folder, "refresh", "--json")
    assert done.code == 1, done
    error = done.json()["errors"][0]
    assert error["code"] == "validation_error"
    assert "record 0" in error["message"] and "$.email" in error["message"]
    assert_no_values(done.out, done.err, stored_text(folder))


def test_an_oracle_exception_is_described_by_type_and_place_never_its_message() -> None:
    import jsonschema

    try:
        jsonschema.validate(
            {"email": "ada@example.com"}, {"properties": {"email": {"type": "integer"}}}
        )
    except jsonschema.ValidationError as exc:
        assert "ada@example.com" in str(exc)  # what jsonschema would have leaked
        described = describe_exception(exc)
    assert described.startswith("ValidationError raised in ")
    assert "ada@example.com" not in described
    try:
        {}["grace@example.com"]
    except KeyError as exc:
        assert "grace@example.com" not in describe_exception(exc)
    assert describe_exception(FileNotFoundError(2, "No such file or directory")) == (
        "FileNotFoundError: No such file or directory"
    )


def test_a_failing_oracle_stores_no_value_of_its_exception(tmp_path: Path) -> None:
    from snapkit.testing.engine import OraclePlugin, make_project

    def load(call: Any) -> Any:
        raise KeyError("ada@example.com")

    project = make_project(tmp_path, OraclePlugin().add("users", load, records=True))
    outcome = project.refresh()
    assert outcome.status == "failed"
    (error,) = outcome.errors
    assert error.code == "oracle_exception" and "KeyError" in error.message
    assert "ada@example.com" not in error.message
    history = b"".join(p.read_bytes() for p in tmp_path.rglob("*.json*") if p.is_file())
    assert b"ada@example.com" not in history


# -- defect 5: keys checked before commit ----------------------------------------------------


def test_duplicate_keys_fail_the_refresh_naming_positions_not_values(folder: Path) -> None:
    assert snapkit(folder, "refresh").code == 0
    good = current_id(folder)
    write_users(folder, [*PEOPLE, ("2", "Grace Hopper", "grace@example.com")])
    done = snapkit(folder, "refresh", "--json")
    assert done.code == 1, done
    (error,) = done.json()["errors"]
    assert error["code"] == "duplicate_key"
    assert error["message"] == (
        "oracle 'users': table 'users': record 3 repeats the key of "
        "record 1 (key field 'id'); a keyed table needs a unique key "
        "per record; fix the source, or declare the field that "
        "identifies a record as its key_column"
    )
    assert current_id(folder) == good
    assert not list((folder / "store").rglob("*.tmp*"))


def test_a_missing_key_column_fails_the_refresh(folder: Path) -> None:
    write_users(folder, PEOPLE, header="ident,name,email")
    done = snapkit(folder, "refresh", "--json")
    assert done.code == 1, done
    (error,) = done.json()["errors"]
    assert error["code"] == "missing_key"
    assert "record 0 has no key field 'id'" in error["message"]
    assert current_id(folder) is None


def test_a_null_key_fails_the_refresh(folder: Path) -> None:
    (folder / "snapkit.toml").write_text(CONFIG.replace("users.csv", "users.jsonl"))
    (folder / "users.jsonl").write_text('{"id": 1}\n{"id": null}\n')
    done = snapkit(folder, "refresh", "--json")
    assert done.code == 1, done
    assert done.json()["errors"][0]["code"] == "missing_key"
    assert "record 1 has a null key 'id'" in done.json()["errors"][0]["message"]


def test_keys_of_different_json_types_are_different_keys(folder: Path) -> None:
    (folder / "snapkit.toml").write_text(CONFIG.replace("users.csv", "users.jsonl"))
    (folder / "users.jsonl").write_text('{"id": 1}\n{"id": "1"}\n{"id": 1.5}\n{"id": [1]}\n')
    assert snapkit(folder, "refresh").code == 0
    (folder / "users.jsonl").write_text('{"id": [1]}\n{"id": 1}\n{"id": [1]}\n')
    done = snapkit(folder, "refresh", "--json")
    assert done.json()["errors"][0]["code"] == "duplicate_key"


def test_a_csv_header_with_a_byte_order_mark_is_read_without_it(folder: Path) -> None:
    write_users(folder, PEOPLE, prefix="\ufeff")
    assert snapkit(folder, "refresh").code == 0
    found = snapkit(folder, "search", "users", "id=2", "--json")
    assert found.code == 0, found
    assert "Grace Hopper" in found.out
    write_users(folder, [*PEOPLE[:2], ("3", "Alan Turing", "turing@example.com")], prefix="\ufeff")
    assert snapkit(folder, "refresh").code == 0
    changes = snapkit(folder, "diff", "current~1", "current", "--json")
    assert changes.code == 0, changes
    assert '"changed"' in changes.out and "turing@example.com" in changes.out


def test_a_byte_order_mark_the_oracle_kept_is_named_in_the_hint(tmp_path: Path) -> None:
    from snapkit.testing.engine import OraclePlugin, make_project

    plugin = OraclePlugin().add(
        "users", lambda call: [{"\ufeffid": "1"}], records=True, key_column="id"
    )
    outcome = make_project(tmp_path, plugin).refresh()
    (error,) = outcome.errors
    assert error.code == "missing_key" and "byte-order mark" in error.message


# -- defect 7: a table that shrinks too much fails ----------------------------------------


def many(n: int) -> list[tuple[str, ...]]:
    return [(str(i), f"user {i}", f"u{i}@example.org") for i in range(n)]


def test_an_empty_answer_does_not_replace_a_full_table(folder: Path) -> None:
    write_users(folder, many(250))
    assert snapkit(folder, "refresh").code == 0
    good = current_id(folder)
    write_users(folder, [])
    done = snapkit(folder, "refresh", "--json")
    assert done.code == 1, done
    (error,) = done.json()["errors"]
    assert error["code"] == "table_shrank"
    assert "table 'users' would go from 250 records to none" in error["message"]
    assert "refresh.allow_shrink" in error["message"]
    assert "snapkit refresh --allow-shrink users" in error["message"]
    assert current_id(folder) == good


def test_a_table_may_lose_half_but_not_more_by_default(folder: Path) -> None:
    write_users(folder, many(250))
    assert snapkit(folder, "refresh").code == 0
    write_users(folder, many(125))
    assert snapkit(folder, "refresh").code == 0
    write_users(folder, many(62))
    done = snapkit(folder, "refresh", "--json")
    assert done.code == 1
    assert done.json()["errors"][0]["message"].startswith(
        "oracle 'users': table 'users' would shrink from 125 to 62 records (50% fewer; at most "
        "50% allowed)"
    )


def test_max_shrink_sets_the_threshold(folder: Path) -> None:
    (folder / "snapkit.toml").write_text(CONFIG + "[refresh]\nmax_shrink = 0.1\n")
    write_users(folder, many(100))
    assert snapkit(folder, "refresh").code == 0
    write_users(folder, many(89))
    assert snapkit(folder, "refresh").code == 1
    write_users(folder, many(90))
    assert snapkit(folder, "refresh").code == 0


def test_allow_shrink_lets_a_table_empty(folder: Path) -> None:
    write_users(folder, many(250))
    assert snapkit(folder, "refresh").code == 0
    (folder / "snapkit.toml").write_text(
        CONFIG.replace("[store]", '[refresh]\nallow_shrink = ["users"]\n\n[store]')
    )
    write_users(folder, [])
    done = snapkit(folder, "refresh", "--json")
    assert done.code == 0, done
    assert done.json()["parts"][0]["records"] == 0


def test_allow_shrink_on_the_command_line_lets_one_refresh_empty_a_table(folder: Path) -> None:
    write_users(folder, many(250))
    assert snapkit(folder, "refresh").code == 0
    write_users(folder, [])
    done = snapkit(folder, "refresh", "--allow-shrink", "users", "--json")
    assert done.code == 0, done
    assert done.json()["parts"][0]["records"] == 0
    write_users(folder, many(250))
    assert snapkit(folder, "refresh").code == 0
    write_users(folder, [])
    assert snapkit(folder, "refresh").code == 1  # the config is unchanged
    wrong = snapkit(folder, "refresh", "--allow-shrink", "userz")
    assert wrong.code == 2
    assert wrong.err.startswith("Error: --allow-shrink: no oracle with key 'userz'")


def test_allow_shrink_naming_no_oracle_is_a_config_error(folder: Path) -> None:
    (folder / "snapkit.toml").write_text(
        CONFIG.replace("[store]", '[refresh]\nallow_shrink = ["userz"]\n\n[store]')
    )
    done = snapkit(folder, "refresh")
    assert done.code == 2, done
    assert done.err.startswith("Error: refresh.allow_shrink[0]: no oracle with key 'userz'")


# -- defect 8: exit codes and messages ----------------------------------------------------


def test_an_unknown_oracle_in_refresh_oracles_exits_2(folder: Path) -> None:
    (folder / "snapkit.toml").write_text(
        CONFIG.replace("[store]", '[refresh]\noracles = ["users", "nope"]\n\n[store]')
    )
    done = snapkit(folder, "refresh")
    assert done.code == 2, done
    assert done.err.startswith(
        "Error: refresh.oracles[1]: no oracle with key 'nope' is registered (known: users)"
    )


def test_an_unknown_requirement_exits_2(folder: Path) -> None:
    (folder / "snapkit.toml").write_text(CONFIG + 'requires = ["nope"]\n')
    done = snapkit(folder, "refresh")
    assert done.code == 2, done
    assert "oracle 'users' requires unknown oracle 'nope'" in done.err


def test_a_dependency_cycle_exits_2(folder: Path) -> None:
    (folder / "snapkit.toml").write_text(
        CONFIG + 'requires = ["more"]\n\n[oracles.more]\nkind = "files"\npath = "users.csv"\n'
        'requires = ["users"]\n'
    )
    done = snapkit(folder, "refresh")
    assert done.code == 2, done
    assert "dependency cycle: more -> users -> more" in done.err


def test_a_config_file_that_is_not_utf8_exits_2_naming_the_line(folder: Path) -> None:
    (folder / "snapkit.toml").write_bytes(CONFIG.encode() + "# caf\u00e9\n".encode("latin-1"))
    done = snapkit(folder, "refresh")
    assert done.code == 2, done
    assert done.err.strip() == (
        f"Error: {folder / 'snapkit.toml'}: not UTF-8 text (byte 0xe9 "
        "on line 12); TOML files are UTF-8; save the file as UTF-8"
    )


def test_a_missing_schema_file_is_named_as_such(folder: Path) -> None:
    (folder / "snapkit.toml").write_text(CONFIG + 'schema = "schemas/users.json"\n')
    done = snapkit(folder, "refresh")
    assert done.code == 2, done
    assert "is installed" not in done.err
    assert (
        f"oracles.users.schema: the schema file {folder / 'schemas' / 'users.json'} does not exist"
    ) in done.err


def test_a_csv_that_is_not_utf8_names_the_encoding_setting_and_line(folder: Path) -> None:
    (folder / "users.csv").write_bytes("id,name\n1,Ada\n2,Jos\u00e9\n".encode("latin-1"))
    done = snapkit(folder, "refresh", "--json")
    assert done.code == 1, done
    message = done.json()["errors"][0]["message"]
    assert "users.csv is not utf-8 text: byte 0xe9 on line 3 cannot be decoded" in message
    assert "'encoding' setting" in message
    (folder / "snapkit.toml").write_text(CONFIG + 'encoding = "latin-1"\n')
    assert snapkit(folder, "refresh").code == 0


def test_search_accepts_non_ascii_field_names(folder: Path) -> None:
    (folder / "users.csv").write_text(
        "id,naïve,名前\n1,yes,アダ\n2,no,グレース\n", encoding="utf-8"
    )
    assert snapkit(folder, "refresh").code == 0
    for query in ("naïve=no", "名前^=グレ"):
        found = snapkit(folder, "search", "users", query, "--json")
        assert found.code == 0, found
        assert '"2"' in found.out and '"1"' not in found.out


def test_the_query_parser_reads_non_ascii_field_names() -> None:
    import unicodedata

    from snapkit.search import parse_query

    decomposed = unicodedata.normalize("NFD", "naïve")
    for name in ("naïve", "名前", decomposed, "e-mail", "address.city"):
        (term,) = parse_query(f"{name}=x").terms
        assert (term.field, term.op, term.value) == (name, "=", "x")
    (term,) = parse_query("http://a/?q=1").terms
    assert term.field is None


def test_a_secret_that_fails_its_settings_schema_is_not_shown(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USERS_URL", "ftp://admin:hunter2@example.com/users.csv")
    (folder / "snapkit.toml").write_text(
        CONFIG.replace('path = "users.csv"', 'url = { env = "USERS_URL" }')
    )
    done = snapkit(folder, "refresh")
    assert done.code == 2, done
    assert "oracles.users.url" in done.err and "${USERS_URL}" in done.err
    assert "hunter2" not in done.err


def test_a_failing_diff_section_is_named_by_type_never_by_its_message() -> None:
    from snapkit.diff import _run_section
    from snapkit.errors import DiffError

    def compute(context: Any) -> Any:
        raise ValueError("grace@example.com changed")

    with pytest.raises(DiffError) as caught:
        _run_section("people", compute, None)  # type: ignore[arg-type]
    assert str(caught.value).startswith("diff section 'people' failed: ValueError raised in ")
    assert "grace@example.com" not in str(caught.value)


@pytest.fixture
def http_folder(folder: Path) -> Any:
    """``folder`` served over HTTP on a loopback port (the files oracle's ``url`` source)."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_csv_over_http_is_decoded_strictly_and_without_its_byte_order_mark(
    http_folder: Any,
) -> None:
    folder, base = http_folder
    (folder / "snapkit.toml").write_text(
        CONFIG.replace('path = "users.csv"', f'url = "{base}/users.csv"')
    )
    write_users(folder, PEOPLE, prefix="\ufeff")
    assert snapkit(folder, "refresh").code == 0
    assert "Grace Hopper" in snapkit(folder, "search", "users", "id=2").out
    (folder / "users.csv").write_bytes("id,name\n1,Ada\n2,Jos\u00e9\n".encode("latin-1"))
    done = snapkit(folder, "refresh", "--json")
    assert done.code == 1, done
    message = done.json()["errors"][0]["message"]
    assert "users.csv is not utf-8 text: byte 0xe9 on line 3 cannot be decoded" in message
    assert "'encoding' setting" in message


def test_json_lines_with_a_byte_order_mark_load(folder: Path) -> None:
    (folder / "snapkit.toml").write_text(CONFIG.replace("users.csv", "users.jsonl"))
    (folder / "users.jsonl").write_text(
        '\ufeff{"id": 1, "name": "Ada"}\n{"id": 2}\n', encoding="utf-8"
    )
    done = snapkit(folder, "refresh", "--json")
    assert done.code == 0, done
    assert done.json()["parts"][0]["records"] == 2
