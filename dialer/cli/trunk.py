"""`dialer trunk ...` for telecom admins and `dialer qa ...` for QA engineers.

    dialer trunk list                      the trunks of config/trunks.toml (never a password)
    dialer trunk check                     check the file only; the first error names the field
    dialer trunk reload                    check, re-render pjsip_trunks.conf, reload PJSIP
    dialer trunk test NAME NUMBER          one call through one trunk, reported in plain words
    dialer qa list                         the PBX's test extensions
    dialer qa call EXTENSION [--agent N]   a real SIP call to a test extension, judged

A reload checks everything first, so a bad file changes nothing; PJSIP's reload keeps calls in
progress (their channels keep the trunk objects they were set up with).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from dialer.ari import AriError
from dialer.config.settings import Settings, SettingsError
from dialer.config.trunks import Trunk, TrunkError, TrunkKind
from dialer.core.trunk_faults import TrunkFault, fault_of
from dialer.pbx import Backend, PbxError, backend

COMMANDS = ("trunk", "qa")

SIP_REASONS = {
    200: "OK", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    407: "Proxy Authentication Required", 408: "Request Timeout",
    480: "Temporarily Unavailable", 486: "Busy Here", 487: "Request Terminated",
    488: "Not Acceptable Here", 500: "Server Internal Error", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Server Time-out", 600: "Busy Everywhere", 603: "Decline",
}
HEARD_MIN_DBFS = -40.0       # quieter than this, nothing came back from the far end
PROBE_SHARE_MIN = 0.5        # the far end heard our probe tone


def sip_answer(code: int | None) -> str:
    if not code:
        return "no SIP final answer"
    return f"{code} {SIP_REASONS.get(code, '')}".strip()


# ------------------------------------------------------------------------------ registrations
class RegStatus(Enum):
    """An outbound registration's state, as `pjsip show registrations` names it."""

    REGISTERED = "Registered"
    UNREGISTERED = "Unregistered"
    REJECTED = "Rejected"
    STOPPED = "Stopped"


REG_WORDS = {
    RegStatus.REGISTERED: "registered",
    RegStatus.UNREGISTERED: "not registered (yet)",
    RegStatus.REJECTED: "REJECTED by the carrier (wrong user name or password?)",
    RegStatus.STOPPED: "stopped (gave up retrying)",
}
SETTLED = (RegStatus.REGISTERED, RegStatus.REJECTED)


@dataclass(frozen=True)
class Registration:
    trunk: str
    status: RegStatus
    detail: str = ""    # e.g. "exp. 287s": when the next REGISTER goes

    def describe(self) -> str:
        when = ""
        if self.status in (RegStatus.REGISTERED, RegStatus.UNREGISTERED):
            when = re.sub(r"exp\. (\d+)s ago", r"\1 s ago", self.detail)
            when = re.sub(r"exp\. (\d+)s", r"next REGISTER in \1 s", when)
        return REG_WORDS[self.status] + (f" ({when})" if when else "")


REG_LINE = re.compile(r"\s*([^\s/<=]+)/\S+\s+(?:\S+\s+)?("
                      + "|".join(s.value for s in RegStatus) + r")\s*(?:\((.*)\))?\s*$")


def parse_registrations(text: str) -> dict[str, Registration]:
    """`pjsip show registrations` -> {trunk: Registration}."""
    out: dict[str, Registration] = {}
    for line in text.splitlines():
        if m := REG_LINE.match(line):
            out[m[1]] = Registration(m[1], RegStatus(m[2]), (m[3] or "").strip())
    return out


def registrations(be: Backend) -> dict[str, Registration]:
    return parse_registrations(be.rx("pbx", "pjsip show registrations"))


def wait_registrations(be: Backend, names: list[str], timeout: float = 5.0,
                       settled: tuple[RegStatus, ...] = SETTLED) -> dict[str, Registration]:
    """Poll until every registration of `names` is in a settled state (or the time is up)."""
    deadline = time.monotonic() + timeout
    while True:
        regs = registrations(be)
        if all(n in regs and regs[n].status in settled for n in names) \
                or time.monotonic() >= deadline:
            return regs
        time.sleep(0.1)


# ------------------------------------------------------------------------------ reload
@dataclass
class ReloadReport:
    trunks: list[Trunk]
    missing: list[str] = field(default_factory=list)       # trunks the PBX did not take
    registrations: dict[str, Registration] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.missing


def reload_trunks(settings: Settings, be: Backend, wait: float = 5.0) -> ReloadReport:
    """Check the trunks file (TrunkError, nothing touched), re-render `pjsip_trunks.conf`,
    reload PJSIP on the running PBX, and wait up to `wait` s for registrations to settle."""
    from dialer.pbx.render import write_trunks

    trunks = write_trunks(settings)
    be.rx("pbx", "module reload res_pjsip.so")
    report = ReloadReport(trunks)
    for t in trunks:
        if "Unable to find" in be.rx("pbx", f"pjsip show endpoint {t.name}"):
            report.missing.append(t.name)
    names = [t.name for t in trunks if t.kind is TrunkKind.REGISTRATION]
    if names and wait > 0:
        # new and changed registrations start within a second (max_random_initial_delay = 0)
        report.registrations = wait_registrations(be, names, wait)
    return report


# ------------------------------------------------------------------------------ trunk test
@dataclass
class TrunkTestReport:
    trunk: Trunk
    number: str
    registration: Registration | None
    call: Any            # dialer.qa.testcall.TestCallResult
    talk: float
    reachable: str | None = None   # qualify's word for the trunk's contact (Avail, Unavail...)
    refused: str = ""              # the PBX would not even place the call, and why

    @property
    def audio_back(self) -> bool:
        heard = self.call.heard_dbfs
        return heard is not None and heard > HEARD_MIN_DBFS

    @property
    def audio_out(self) -> bool | None:
        share = self.call.customer_heard_probe
        return None if share is None else share >= PROBE_SHARE_MIN

    @property
    def fault(self) -> TrunkFault | None:
        return None if self.call.answered else fault_of(self.call.cause, self.call.sip_status)

    @property
    def passed(self) -> bool:
        return bool(self.call.answered and self.audio_back and self.audio_out is not False)

    def describe(self) -> str:
        t, c = self.trunk, self.call
        if t.kind is TrunkKind.REGISTRATION:
            head = f"trunk {t.name}: registration trunk, {t.username} at {t.target}"
            reg = self.registration.describe() if self.registration else "not configured " \
                "on the PBX (run `dialer trunk reload`)"
        else:
            head = f"trunk {t.name}: IP trunk to {t.target}"
            reg = "none needed (the carrier knows the PBX by its address)"
        lines = [head, f"  registration: {reg}"]
        if t.qualify_s == 0:
            lines.append("  reachable: not checked (qualify_s = 0: no OPTIONS pings)")
        elif self.reachable is not None:
            word = {"Avail": "yes", "Unavail": "NO: it does not answer OPTIONS pings"}.get(
                self.reachable, f"not known yet ({self.reachable})")
            lines.append(f"  reachable: {word} (pinged every {t.qualify_s} s)")
        lines.append(f"  called {self.number}")
        if self.refused:
            lines.append(f"  SIP answer: none: the PBX did not place the call ({self.refused})")
            verdict = ("the trunk is UNREACHABLE: a campaign fails over to its next trunk"
                       if self.reachable == "Unavail" else "the PBX REFUSED to place the call")
            lines.append(f"  result: {verdict}")
            return "\n".join(lines)
        answer = sip_answer(200 if c.answered else c.sip_status)
        timing = []
        if c.ringing_ms is not None:
            timing.append(f"ringing after {c.ringing_ms:.0f} ms")
        if c.answered:
            timing.append(f"answered after {c.answered_ms:.0f} ms")
        elif c.ended_ms is not None:
            timing.append(f"after {c.ended_ms:.0f} ms")
        lines.append(f"  SIP answer: {answer}" + (f", {', '.join(timing)}" if timing else "")
                     + f" (hang-up cause {c.cause} {c.cause_txt})")
        if c.answered:
            back = (f"yes ({c.heard_dbfs:.1f} dBFS)" if self.audio_back else
                    "NO: silence from the far end (no RTP, or blocked)" if c.heard_dbfs is None
                    or c.heard_dbfs == float("-inf") else
                    f"hardly ({c.heard_dbfs:.1f} dBFS)")
            lines.append(f"  audio from the far end: {back}")
            if self.audio_out is None:
                lines.append("  audio to the far end: cannot be seen from here (only the "
                             "simulated carrier records what it hears)")
            else:
                word = "yes" if self.audio_out else "NO"
                lines.append(f"  audio to the far end: {word} (it heard our probe tone, share "
                             f"{c.customer_heard_probe:.2f})")
            lines.append(f"  hung up by the {c.hung_up_by or 'dialer'}")
        fault = self.fault
        if self.passed:
            verdict = "the trunk works: the call was answered and audio went both ways"
        elif fault is TrunkFault.CONGESTION:
            verdict = ("the trunk is CONGESTED: a campaign fails over to its next trunk")
        elif fault is TrunkFault.UNREACHABLE:
            verdict = "the carrier is UNREACHABLE: a campaign fails over to its next trunk"
        elif c.sip_status in (401, 407):
            verdict = "the carrier REFUSED our credentials: check username and password"
        elif c.sip_status == 403:
            verdict = "the carrier FORBADE the call: is the trunk registered and allowed?"
        elif not c.answered and c.ringing_ms is None and c.cause == 19:
            # our own ring timeout ended it: nothing came back, not even ringing; Asterisk
            # reports that as 480 whether or not the carrier exists
            verdict = ("NO ANSWER of any kind within the ring timeout, not even ringing: the "
                       "number did not answer, or the trunk is unreachable"
                       + (" (qualify_s = 0, so the PBX cannot tell)" if t.qualify_s == 0 else ""))
        elif not c.answered and c.sip_status:
            verdict = (f"the carrier answered {sip_answer(c.sip_status)}: the trunk carries "
                       "calls, this number did not answer")
        elif c.answered:
            verdict = "answered, but audio did NOT go both ways"
        else:
            verdict = "the call FAILED"
        lines.append(f"  result: {verdict}")
        return "\n".join(lines)


def find_trunk(settings: Settings, name: str) -> Trunk:
    from dialer.pbx.render import trunks_conf

    trunks, _ = trunks_conf(settings)
    for t in trunks:
        if t.name == name:
            return t
    known = ", ".join(t.name for t in trunks) or "none"
    raise TrunkError(f"no trunk named {name!r} (known: {known})")


async def trunk_test_call(settings: Settings, be: Backend, trunk: Trunk, number: str,
                          talk: float = 3.0, ring_timeout: float = 30.0) -> TrunkTestReport:
    """One call through `trunk` (it must be loaded on the PBX), with the registration state."""
    from dialer.qa.testcall import TestCallResult, place_test_call

    reg = None
    if trunk.kind is TrunkKind.REGISTRATION:
        reg = (await asyncio.to_thread(registrations, be)).get(trunk.name)
    reachable = await asyncio.to_thread(contact_status, be, trunk.name) \
        if trunk.qualify_s else None
    # an ARI application of its own, so several test calls can run at once
    app = f"opendialer-trunktest-{uuid.uuid4().hex[:8]}"
    try:
        result = await place_test_call(settings, number, ring_timeout=ring_timeout, talk=talk,
                                       app=app, trunk=trunk.name)
    except AriError as exc:
        return TrunkTestReport(trunk, number, reg, TestCallResult(number, ""), talk, reachable,
                               refused=str(exc))
    return TrunkTestReport(trunk, number, reg, result, talk, reachable)


def contact_status(be: Backend, trunk: str) -> str | None:
    """What the PBX's OPTIONS pings say of `trunk`'s contact: "Avail", "Unavail", "Unknown"..."""
    for line in be.rx("pbx", f"pjsip show aor {trunk}").splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[0] == "Contact:" and fields[1].startswith(f"{trunk}/"):
            return fields[3]
    return None


# ------------------------------------------------------------------------------ commands
def cmd_trunk(settings: Settings, args: argparse.Namespace, out: Callable[[str], None]) -> int:
    from dialer.config.trunks import trunks_path
    from dialer.pbx.render import trunks_conf

    if args.action == "check":
        trunks, _ = trunks_conf(settings)
        out(f"{trunks_path()}: {len(trunks)} trunk(s), all settings valid")
        return 0
    if args.action == "list":
        trunks, _ = trunks_conf(settings)
        regs: dict[str, Registration] = {}
        be = backend(settings, log=lambda _m: None)
        if be.status().running:
            regs = registrations(be)
        for t in trunks:
            out(t.describe())
            if t.name in regs:
                out(f"    registration: {regs[t.name].describe()}")
        return 0
    be = backend(settings, log=lambda _m: None)
    if args.action == "reload":
        report = reload_trunks(settings, be)
        out(f"reloaded {len(report.trunks)} trunk(s) on the PBX; calls in progress keep going")
        for t in report.trunks:
            state = "NOT LOADED (see `dialer pbx logs`)" if t.name in report.missing else "loaded"
            reg = report.registrations.get(t.name)
            out(f"  {t.name}: {state}" + (f", registration {reg.describe()}" if reg else ""))
        return 0 if report.ok else 1
    if args.action == "test":
        trunk = find_trunk(settings, args.name)
        rep = asyncio.run(trunk_test_call(settings, be, trunk, args.number, talk=args.talk,
                                     ring_timeout=args.ring_timeout))
        out(rep.describe())
        return 0 if rep.passed else 1
    raise AssertionError(args.action)


def cmd_qa(settings: Settings, args: argparse.Namespace, out: Callable[[str], None]) -> int:
    from dialer.qa import calls as qa

    if args.action == "list":
        for ext in qa.EXTENSIONS.values():
            out(f"{ext.number}  {ext.name:10} {ext.description}")
        return 0
    seats = settings.agents.numbers()
    agent = args.agent or seats[-1]
    if agent not in seats:
        raise SettingsError(f"--agent {agent} is not an agent seat ({seats[0]}-{seats[-1]})")
    if args.dtmf and not re.fullmatch(r"[0-9*]{1,16}", args.dtmf):
        raise SettingsError(f"--dtmf takes up to 16 digits 0-9 and *, got {args.dtmf!r}")
    failed = 0
    for report in qa.qa_calls(settings, args.extensions, agent, dtmf=args.dtmf, talk=args.talk,
                              ring_for=args.ring_for):
        out(json.dumps(report.as_dict()) if args.json else report.describe())
        failed += not report.passed
    return 1 if failed else 0


def add_parsers(sub: Any) -> None:
    trunk = sub.add_parser("trunk", help="SIP trunks (config/trunks.toml): list, check, "
                           "reload, test")
    t = trunk.add_subparsers(dest="action", required=True)
    t.add_parser("list", help="the trunks, and their registration state if the PBX runs")
    t.add_parser("check", help="check config/trunks.toml (or OPENDIALER_TRUNKS) only")
    t.add_parser("reload", help="check, then apply the trunks to the running PBX (calls in "
                 "progress keep going)")
    test = t.add_parser("test", help="one call through one trunk: registration, SIP answer, "
                        "timings, audio both ways")
    test.add_argument("name", help="trunk name")
    test.add_argument("number", help="number to call, e.g. +12122010100 "
                      "(config/carrier/numbering.md)")
    test.add_argument("--talk", type=float, default=3.0, help="seconds on an answered call")
    test.add_argument("--ring-timeout", type=float, default=30.0)
    qa_parser = sub.add_parser("qa", help="QA: call the PBX's test extensions from a real SIP "
                               "phone and judge what comes back")
    q = qa_parser.add_subparsers(dest="action", required=True)
    q.add_parser("list", help="the test extensions (docs/qa.md)")
    call = q.add_parser("call", help="call test extensions (e.g. 9196 9197) and judge each")
    call.add_argument("extensions", nargs="+", metavar="EXTENSION")
    call.add_argument("--agent", type=int, help="agent seat whose SIP account places the call "
                      "(default: the last seat)")
    call.add_argument("--dtmf", default="", help="digits for the DTMF read-back (default 2580)")
    call.add_argument("--talk", type=float, default=0.0, help="seconds to listen (default per "
                      "extension)")
    call.add_argument("--ring-for", type=float, default=3.0, help="seconds to let a ringing "
                      "call ring before hanging up")
    call.add_argument("--json", action="store_true", help="one JSON object per call")


def _print(line: str) -> None:
    print(line, flush=True)


def run(settings: Settings, args: argparse.Namespace,
        out: Callable[[str], None] = _print) -> int | None:
    """Run `trunk` and `qa` commands; None for any other command."""
    if args.command == "trunk":
        return cmd_trunk(settings, args, out)
    if args.command == "qa":
        return cmd_qa(settings, args, out)
    return None


def main(argv: list[str] | None = None) -> int:
    """`python -m dialer.cli.trunk trunk ...|qa ...` (the same as `dialer trunk|qa ...`)."""
    from dialer.config.settings import load_settings

    parser = argparse.ArgumentParser(prog="dialer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        result = run(load_settings(), args)
    except (SettingsError, PbxError) as exc:
        print(f"dialer: {exc}", file=sys.stderr)
        return 2
    return result or 0


if __name__ == "__main__":
    sys.exit(main())
