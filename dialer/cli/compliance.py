"""Commands for lists and compliance: `dialer list import`, `dialer dnc ...`, `dialer why`,
`dialer report`, `dialer campaign export`.

- ``list import CAMPAIGN FILE``: a calling list with header mapping (``--map "Cust Name=name"``,
  ``--map Fax=`` to leave a column out), named phone columns in dialing order (``--phone``),
  a progress bar and the rows per second; ``--dry-run`` only checks;
- ``dnc import|export|add|remove|check``: the system Do-Not-Call list, or a campaign's with
  ``--campaign``; ``dnc import --dry-run`` only checks;
- ``why CAMPAIGN``: in plain words, why its records are (not) dialed now, with counts;
  ``--contact ID|NUMBER``: one contact's time zones and the evidence for each;
- ``report CAMPAIGN --csv F --html F``: the compliance ledger (the abandon rate over the
  campaign's rule window, ring times, answer-to-agent times) as CSV and as an HTML page;
- ``campaign export CAMPAIGN [attempts|dispositions|callbacks|agents|all] -o F``: CSV exports
  (``all``: the four files into a folder).

Every option that names a file to write takes ``-`` for standard output (then the summary
lines go to standard error). The old spellings ``import-list``, ``export`` and ``export-all``
still run, hidden from the help, after a deprecation line on standard error.

Wired into ``dialer.cli`` by ``add_parsers(sub)`` and ``run(settings, args)`` (None when the
command is not one of these).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from dialer.cli import report
from dialer.config.settings import Settings
from dialer.core.timeutil import require_aware
from dialer.db.campaigns import (
    campaign_id_by_name,
    check_contacts,
    get_campaign,
    import_contacts,
    list_campaigns,
)
from dialer.db.database import Database, open_database
from dialer.db.diagnosis import ContactNotFound, diagnose, explain_contact
from dialer.db.dnc import add_number, dnc_hits, dnc_rows, import_dnc, remove_number
from dialer.db.exports import TABLES, export_all, export_table, write_csv
from dialer.db.gate import is_dialable
from dialer.db.ledger import campaign_ledger
from dialer.dnc_lists import read_dnc
from dialer.lists import ListError, ListRejected, NumberError, normalize_number, read_list

DNC_COLUMNS = ("e164", "list", "source", "reason", "added_at", "agent", "attempt_id")
STDOUT = "-"
# old spelling -> the command that replaced it
DEPRECATED = {
    "import-list": "dialer list import",
    "export": "dialer campaign export",
    "export-all": "dialer campaign export CAMPAIGN all -o DIR",
}


class ComplianceError(Exception):
    """A user error: printed, exit status 2."""


def output(value: str) -> Path:
    """An ``-o`` value: a path, or ``-`` for standard output (kept as ``Path("-")``)."""
    if not value.strip():
        raise argparse.ArgumentTypeError("an empty file name (give a path, or - for stdout)")
    return Path(value)


def to_stdout(path: Path | None) -> bool:
    return path is not None and str(path) == STDOUT


def add_import_arguments(imp: argparse.ArgumentParser) -> None:
    """The options of ``dialer list import`` (and its old spelling ``import-list``)."""
    imp.add_argument("campaign")
    imp.add_argument("file", type=Path)
    imp.add_argument("--region", help="region of national numbers (default: the campaign's "
                     "default_region; a country column on a row wins)")
    imp.add_argument(
        "--phone",
        action="append",
        metavar="COLUMN",
        help="a phone column, in dialing order (repeat; default: columns named phone, "
        "mobile, number...)",
    )
    imp.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="COLUMN=FIELD",
        help='rename a column\'s custom field ("Cust Name=name"; "Fax=" leaves it out)',
    )
    imp.add_argument("--dry-run", action="store_true", help="check the file, store nothing")


def add_export_arguments(exp: argparse.ArgumentParser) -> None:
    """The arguments of ``dialer campaign export`` (and its old spelling ``export``)."""
    exp.add_argument("campaign")
    exp.add_argument("table", nargs="?", default="attempts", choices=[*TABLES, "all"],
                     help="what to export (default attempts; all: the four files into the "
                     "folder given with -o)")
    exp.add_argument("-o", "--output", type=output, metavar="FILE",
                     help="where to write (default, or -: standard output)")


def add_parsers(sub: Any) -> None:
    """Add this module's top-level sub-commands (and the old spellings, hidden)."""
    add_import_arguments(sub.add_parser("import-list"))  # deprecated: dialer list import
    add_export_arguments(sub.add_parser("export"))  # deprecated: dialer campaign export
    old_all = sub.add_parser("export-all")  # deprecated: dialer campaign export C all -o DIR
    old_all.add_argument("campaign")
    old_all.add_argument("folder", type=Path)

    dnc = sub.add_parser("dnc", help="Do-Not-Call lists (the system's, or a campaign's)")
    d = dnc.add_subparsers(dest="action", required=True)
    d_imp = d.add_parser("import", help="add the numbers of a CSV file (all or nothing)")
    d_imp.add_argument("file", type=Path)
    d_imp.add_argument("--dry-run", action="store_true", help="check the file, store nothing")
    d_exp = d.add_parser("export", help="write a list as CSV")
    d_exp.add_argument("-o", "--output", type=output, metavar="FILE",
                       help="where to write (default, or -: standard output)")
    d_add = d.add_parser("add", help="list numbers")
    d_add.add_argument("numbers", nargs="+")
    d_add.add_argument("--reason")
    d_rm = d.add_parser("remove", help="take numbers off a list")
    d_rm.add_argument("numbers", nargs="+")
    d_chk = d.add_parser(
        "check", help="is a number dialable (DNC, and calling hours with --campaign)"
    )
    d_chk.add_argument("numbers", nargs="+")
    for p in (d_imp, d_exp, d_add, d_rm, d_chk):
        p.add_argument("--campaign", help="the campaign's list (default: the system list)")
        p.add_argument("--region", default="US", help="region of national numbers")

    why = sub.add_parser("why", help="why a campaign's records are not being dialed now")
    why.add_argument("campaign")
    why.add_argument(
        "--ready-agents", type=int, help="how many agents are ready (default: the audit log)"
    )
    why.add_argument(
        "--status-file",
        type=Path,
        help="JSON with ready_agents (e.g. saved from `dialer status --json`)",
    )
    why.add_argument("--at", help="ISO time to answer for (default: now)")
    why.add_argument("--contact", metavar="ID|NUMBER",
                     help="one contact: its time zones and the evidence that gave each")

    rep = sub.add_parser("report", help="the compliance ledger as CSV and an HTML page")
    rep.add_argument("campaign")
    rep.add_argument("--csv", type=output, help="per-day ledger CSV (- for stdout)")
    rep.add_argument("--attempts-csv", type=output, help="per-attempt ledger CSV (- for stdout)")
    rep.add_argument("--html", type=output, help="the readable report with a chart (- for "
                     "stdout)")
    rep.add_argument("--at", help="ISO time the window ends (default: now)")


def run(settings: Settings, args: argparse.Namespace) -> int | None:
    """Run one of this module's commands; None if ``args.command`` is not one of them."""
    command, action = args.command, getattr(args, "action", None)
    handlers = {
        ("import-list", None): cmd_import_list,
        ("list", "import"): cmd_import_list,
        ("dnc", action): cmd_dnc,
        ("why", None): cmd_why,
        ("report", None): cmd_report,
        ("export", None): cmd_campaign_export,
        ("campaign", "export"): cmd_campaign_export,
        ("export-all", None): cmd_export_all,
    }
    handler = handlers.get((command, action))
    if handler is None:
        return None
    if command in DEPRECATED:
        print(f"dialer: `dialer {command}` is deprecated; use `{DEPRECATED[command]}` "
              "(docs/compliance.md)", file=sys.stderr)
    db = open_database(settings.service.database)
    try:
        return handler(db, args)
    except (ComplianceError, ListError, ListRejected, NumberError, FileNotFoundError,
            ContactNotFound) as exc:
        print(f"dialer: {exc}", file=sys.stderr)
        return 2
    finally:
        db.close()


def _campaign(db: Database, name: str) -> int:
    cid = campaign_id_by_name(db, name)
    if cid is None:
        known = ", ".join(c.name for c in list_campaigns(db)) or "none yet"
        raise ComplianceError(f"no campaign named {name!r} (known: {known})")
    return cid


def _now(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ComplianceError(f"--at must be an ISO time like 2026-03-02T15:00Z: {exc}") from None
    if value.tzinfo is None:
        raise ComplianceError("--at needs a time zone (e.g. 2026-03-02T15:00Z)")
    return require_aware(value)


class ProgressBar:
    """A one-line progress bar on stderr (rewritten in place on a terminal)."""

    def __init__(self, label: str, out: TextIO | None = None) -> None:
        self.label = label
        self.out = out or sys.stderr
        self.started = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        rate = done / max(time.perf_counter() - self.started, 1e-9)
        end = "\n" if done >= total else ("\r" if self.out.isatty() else "\n")
        print(
            f"  {self.label:8} [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} "
            f"({rate:,.0f}/s)",
            end=end,
            file=self.out,
            flush=True,
        )


def _mapping(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ComplianceError(f"--map wants COLUMN=FIELD, got {pair!r}")
        column, _, field = pair.partition("=")
        out[column.strip()] = field.strip()
    return out


def cmd_import_list(db: Database, args: argparse.Namespace) -> int:
    cid = _campaign(db, args.campaign)
    started = time.perf_counter()
    campaign = get_campaign(db, cid)
    parsed = read_list(
        args.file,
        args.region or campaign.default_region,
        phone_columns=args.phone,
        field_map=_mapping(args.map),
        progress=ProgressBar("checking"),
        destinations=campaign.destinations,
    )
    if parsed.errors:
        print(
            f"{args.file}: {len(parsed.errors)} rejected row(s) of {parsed.rows}; nothing "
            "imported:",
            file=sys.stderr,
        )
        for err in parsed.errors[:200]:
            print(f"  {err}", file=sys.stderr)
        if len(parsed.errors) > 200:
            print(f"  ... and {len(parsed.errors) - 200} more", file=sys.stderr)
        return 1
    if args.dry_run:
        check_contacts(db, cid, parsed)  # numbers already in the campaign, as the import does
        print(f"{args.file}: {len(parsed.contacts)} contacts would be imported (dry run)")
        return 0
    ids = import_contacts(db, cid, parsed, progress=ProgressBar("storing"))
    seconds = time.perf_counter() - started
    print(
        f"{args.file}: imported {len(ids):,} contacts into {args.campaign} in {seconds:.1f} s "
        f"({len(ids) / max(seconds, 1e-9):,.0f} rows/s; {parsed.encoding}, delimiter "
        f"{parsed.delimiter!r}, phones {', '.join(parsed.phone_columns)}; fields "
        f"{', '.join(parsed.field_columns) or '-'})"
    )
    return 0


def cmd_dnc(db: Database, args: argparse.Namespace) -> int:
    cid = _campaign(db, args.campaign) if args.campaign else None
    which = f"campaign {args.campaign}'s list" if args.campaign else "the system list"
    if args.action == "import":
        parsed = read_dnc(args.file, args.region)
        if parsed.errors:
            print(
                f"{args.file}: {len(parsed.errors)} rejected row(s); nothing imported:",
                file=sys.stderr,
            )
            for err in parsed.errors[:200]:
                print(f"  {err}", file=sys.stderr)
            return 1
        if args.dry_run:
            print(f"{args.file}: {len(parsed.rows)} number(s) would be added to {which} "
                  "(dry run)")
            return 0
        result = import_dnc(db, parsed, cid)
        print(
            f"{args.file}: {result.added} number(s) added to {which}; "
            f"{result.already_listed} already listed; {parsed.repeated} repeated in the file"
        )
        return 0
    if args.action == "export":
        rows = dnc_rows(db, cid)
        write_csv(args.output, rows, DNC_COLUMNS)
        if args.output and not to_stdout(args.output):
            print(f"{len(rows)} number(s) of {which} written to {args.output}", file=sys.stderr)
        return 0
    numbers = [_number(raw, args.region) for raw in args.numbers]
    if args.action == "add":
        for n in numbers:
            added = add_number(db, n, cid, reason=args.reason)
            print(f"{n}: {'added to' if added else 'already on'} {which}")
        return 0
    if args.action == "remove":
        for n in numbers:
            removed = remove_number(db, n, cid)
            print(f"{n}: {'removed from' if removed else 'not on'} {which}")
        return 0
    blocked = False
    for n in numbers:
        if cid is not None:
            verdict = is_dialable(db, cid, n, datetime.now(UTC))
            blocked |= not verdict.allowed
            print(
                f"{n}: {'dialable now' if verdict.allowed else 'not dialable: ' + verdict.reason}"
            )
        else:
            hits = dnc_hits(db, None, n)
            blocked |= bool(hits)
            print(f"{n}: {hits[0].describe() if hits else 'not on the system list'}")
    return 1 if blocked else 0


def _number(raw: str, region: str) -> str:
    try:
        return normalize_number(raw, region)
    except NumberError as exc:
        raise ComplianceError(str(exc)) from None


def ready_from_status_file(path: Path) -> int:
    """``ready_agents`` from a JSON status file (the service's ``/status`` document)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        value = data["ready_agents"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ComplianceError(f"{path}: no ready_agents count in it ({exc})") from None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ComplianceError(f"{path}: ready_agents must be a count, got {value!r}")
    return value


def cmd_why(db: Database, args: argparse.Namespace) -> int:
    cid = _campaign(db, args.campaign)
    if args.contact:
        print("\n".join(explain_contact(db, cid, args.contact, _now(args.at))))
        return 0
    ready, source = args.ready_agents, "as given"
    if args.status_file is not None:
        ready, source = ready_from_status_file(args.status_file), f"from {args.status_file}"
    diagnosis = diagnose(
        db, cid, _now(args.at), ready_agents=ready, ready_source=source if ready is not None else ""
    )
    print(diagnosis.text())
    return 0 if diagnosis.dialing else 3


def cmd_report(db: Database, args: argparse.Namespace) -> int:
    cid = _campaign(db, args.campaign)
    targets = [(args.csv, report.daily_csv), (args.attempts_csv, report.attempts_csv),
               (args.html, None)]
    if sum(to_stdout(path) for path, _ in targets) > 1:
        raise ComplianceError("only one of --csv, --attempts-csv and --html can be - (stdout)")
    now = _now(args.at)
    ledger = campaign_ledger(db, cid, now)
    name = get_campaign(db, cid).name
    written = []
    for path, render in targets:
        if path is None:
            continue
        text = render(ledger) if render is not None else report.html_page(ledger, name)
        if to_stdout(path):
            sys.stdout.write(text)
        else:
            path.write_text(text, encoding="utf-8")
            written.append(str(path))
    out = sys.stderr if any(to_stdout(path) for path, _ in targets) else sys.stdout
    flagged = ledger.flagged()
    over = "; OVER THE CAP" if ledger.current.over(ledger.cap) else ""
    rule = ledger.profile
    print(
        f"campaign {name}: abandon rate, {rule.window_label}: {report.rate_text(ledger.current)} "
        f"(cap {100 * ledger.cap:.1f}%{over}; {rule.title})",
        file=out,
    )
    print(
        f"  whole campaign: {report.rate_text(ledger.total)}; {len(ledger.entries)} attempts "
        f"over {len(ledger.days)} day(s); {len(flagged)} attempt(s) flagged",
        file=out,
    )
    for path in written:
        print(f"  wrote {path}", file=out)
    return 0


def cmd_campaign_export(db: Database, args: argparse.Namespace) -> int:
    cid = _campaign(db, args.campaign)
    now = datetime.now(UTC)
    if args.table == "all":
        if args.output is None or to_stdout(args.output):
            raise ComplianceError("campaign export ... all writes four files: give their "
                                  "folder with -o DIR (or one table for stdout)")
        return _export_folder(db, cid, args.output, now)
    rows = export_table(db, cid, args.table, args.output, now)
    if args.output is not None and not to_stdout(args.output):
        print(f"{rows} {args.table} row(s) written to {args.output}", file=sys.stderr)
    return 0


def cmd_export_all(db: Database, args: argparse.Namespace) -> int:
    return _export_folder(db, _campaign(db, args.campaign), args.folder, datetime.now(UTC))


def _export_folder(db: Database, cid: int, folder: Path, now: datetime) -> int:
    counts = export_all(db, cid, folder, now)
    for name, rows in counts.items():
        print(f"{folder / name}: {rows} row(s)")
    return 0
