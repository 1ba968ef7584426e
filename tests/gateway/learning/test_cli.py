"""`turnout learning apgr|export` given files it cannot use: one line naming the file (and line), no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main


@pytest.mark.parametrize(("raw", "expected"), [
    (b'{"text": "hi"}\n', "rows.jsonl:1: not an outcome row of `turnout learning export` (KeyError: 'alias')"),
    (b"\n[1, 2]\n", "rows.jsonl:2: not an outcome row of `turnout learning export` (TypeError:"),
    (b'{"alias": "caf\xe9"}\n', "rows.jsonl:1: not an outcome row of `turnout learning export` (JSONDecodeError:"),
])
def test_apgr_names_the_line_that_is_not_an_outcome_row(tmp_path: Path, raw: bytes, expected: str) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_bytes(raw)
    with pytest.raises(SystemExit) as caught:
        main(["learning", "apgr", "--input", str(rows)])
    assert str(caught.value.code).startswith(f"{tmp_path}/{expected}"), caught.value.code


def test_apgr_and_export_name_a_file_they_cannot_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["learning", "apgr", "--input", str(tmp_path / "missing.jsonl")])
    assert caught.value.code == f"{tmp_path}/missing.jsonl: cannot read (No such file or directory)"
    policy = tmp_path / "p.yaml"
    policy.write_bytes(b"models: [\xff]\n")
    with pytest.raises(SystemExit) as caught:
        main(["learning", "export", "--policy", str(policy), "--output", str(tmp_path / "out.jsonl")])
    assert caught.value.code == f"{policy}: <root> (line 1): not UTF-8 text (byte 9 is 0xff); save the file as UTF-8"
    with pytest.raises(SystemExit) as caught:
        main(["learning", "apgr", "--windows", "0"])
    assert caught.value.code == 2 and "'0' is not a positive whole number" in capsys.readouterr().err
