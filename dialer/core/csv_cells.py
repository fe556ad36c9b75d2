"""CSV cells a spreadsheet cannot run: every CSV export writes its cells through `neutralize()`.

A spreadsheet opening a CSV runs a cell that starts like a formula (`=HYPERLINK(...)` in an
agent's note, `+cmd|...` in an imported record field). OWASP's advice, followed here: prefix such a
cell with `'`, which spreadsheets read as "this is text" and do not show.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# A spreadsheet reads a cell starting with one of these as a formula (`=HYPERLINK(...)`,
# `+cmd|...`, `@SUM(...)`); tab and CR start one after the program strips them.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value: Any) -> Any:
    """A text cell that a spreadsheet would take as a formula, prefixed with `'` (OWASP's CSV
    injection advice); anything else unchanged.

    Every such text cell is quoted, phone numbers included: `+12125550100` is read as a formula
    too (a spreadsheet shows 12125550100, dropping the `+`), and a rule by column would leave
    the next free-text column open. Our own importers (`dialer.core.numbers.parse_number`, so
    `dialer list import` and `dialer dnc import`) read a number with a leading `'` back as the
    number. Numbers that are Python numbers (durations, counts) are written as they are.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutral_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """`row` with every cell through `neutralize()`."""
    return {k: neutralize(v) for k, v in row.items()}
