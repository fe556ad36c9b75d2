"""The `dialer` command: the PBX, agents, campaigns, lists, compliance and the dialer service.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time

from dialer.config.settings import Settings, SettingsError, load_settings
from dialer.pbx import PbxError, Status, backend
from dialer.pbx.rootfs import RootfsError


def _print_status(st: Status) -> None:
    print(f"backend: {st.backend}" + (f" ({st.location})" if st.location else ""))
    for inst in st.instances:
        state = "running" if inst.running else "stopped"
        log = f"  log: {inst.log}" if inst.log else ""
        print(f"  {inst.name:8} {state:8} {inst.detail}{log}")
    if st.version:
        print(f"version: {st.version}")
    if st.endpoints:
        print("endpoints:")
        for line in st.endpoints.splitlines():
            print(f"  {line}")


def cmd_pbx(settings: Settings, args: argparse.Namespace) -> int:
    be = backend(settings)
    if args.action == "build":
        print(f"pbx: ready to start ({be.name}: {be.build()})")
        return 0
    if args.action == "up":
        started = time.monotonic()
        st = be.up()
        _print_status(st)
        print(f"pbx: up in {time.monotonic() - started:.1f} s; ARI at {settings.pbx.ari_url}")
        return 0
    if args.action == "down":
        stopped = be.down()
        print("pbx: stopped " + (", ".join(stopped) if stopped else "nothing (was not running)"))
        return 0
    if args.action == "status":
        st = be.status()
        _print_status(st)
        return 0 if st.running else 3
    if args.action == "logs":
        follow_logs = getattr(be, "follow_logs", None)   # Docker: the containers' output too
        if follow_logs is not None:
            code: int = follow_logs(args.follow, args.lines)
            return code
        files = [str(p) for p in be.log_files().values() if p.exists()]
        if not files:
            print("pbx: no logs yet")
            return 1
        tail = ["tail", "-n", str(args.lines)] + (["-F"] if args.follow else []) + files
        return subprocess.call(tail)
    if args.action == "cli":
        print(be.rx(args.instance, " ".join(args.words)), end="")
        return 0
    raise AssertionError(args.action)


def cmd_call(settings: Settings, args: argparse.Namespace) -> int:
    from dialer.qa.testcall import place_test_call

    result = asyncio.run(place_test_call(settings, args.number, ring_timeout=args.ring_timeout,
                                         talk=args.talk))
    print(result.describe())
    return 0


def admin_errors() -> tuple[type[BaseException], ...]:
    from dialer.cli import admin

    return (admin.AdminError, *admin.USER_ERRORS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dialer", description=__doc__)
    # metavar: the old spellings (import-list, export, export-all) stay out of the usage line
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    pbx = sub.add_parser("pbx", help="run the PBX (Asterisk 22) and the simulated carrier")
    pbx_sub = pbx.add_subparsers(dest="action", required=True)
    pbx_sub.add_parser("build", help="install Asterisk (root filesystem or image) without starting")
    pbx_sub.add_parser("up", help="start both (idempotent); returns when ARI answers")
    pbx_sub.add_parser("down", help="stop what `up` started")
    pbx_sub.add_parser("status", help="what runs, the version, endpoints and log files")
    logs = pbx_sub.add_parser("logs", help="show the instances' logs")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("-n", "--lines", type=int, default=40)
    cli = pbx_sub.add_parser("cli", help="run an Asterisk CLI command, e.g. `pjsip show endpoints`")
    cli.add_argument("--instance", choices=["pbx", "carrier"], default="pbx")
    cli.add_argument("words", nargs="+", metavar="COMMAND")
    call = sub.add_parser("call", help="place one test call to a number through the carrier trunk")
    call.add_argument("number", help="E.164 number, e.g. +12122010200 "
                      "(see config/carrier/numbering.md)")
    call.add_argument("--ring-timeout", type=float, default=30.0)
    call.add_argument("--talk", type=float, default=3.0, help="seconds to stay on an answered call")
    bench = sub.add_parser("bench", help="benchmarks that print figures (not tests)")
    bench.add_argument("what", choices=["pacing", "profiles"], help="pacing: policies side by "
                       "side in the campaign simulator (scenario B0, sensitivity grid, live-rate "
                       "drop); profiles: the predictive pacer under each jurisdiction profile's "
                       "window and cap (US 30 days, UK 24 h, Canada calendar month)")
    bench.add_argument("rest", nargs=argparse.REMAINDER,
                       help="options of the benchmark, e.g. --quick (see `dialer bench pacing "
                       "-- --help`)")
    demo = sub.add_parser("demo", help="PBX, carrier, dialer and three scripted agents run the "
                          "demo campaign to its end; prints the summary")
    demo.add_argument("--campaign", help="campaign TOML (default config/campaigns/demo.toml)")
    demo.add_argument("--list", dest="contacts", help="CSV list (default config/lists/demo.csv)")
    from dialer.cli import admin

    admin.add_parsers(sub)
    from dialer.cli import compliance as compliance_cli
    from dialer.cli import trunk as trunk_cli

    compliance_cli.add_parsers(sub)
    trunk_cli.add_parsers(sub)
    from dialer.cli import security as security_cli

    security_cli.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        if args.command == "pbx":
            return cmd_pbx(settings, args)
        if args.command == "call":
            return cmd_call(settings, args)
        if args.command == "bench":
            rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
            if args.what == "profiles":
                from dialer.sim.profiles import main as profiles_main

                return profiles_main(rest)
            from dialer.sim.bench import main as bench_main

            return bench_main(rest)
        if args.command == "demo":
            from dialer.cli.demo import main as demo_main

            return demo_main(settings, args.campaign, args.contacts)
        if args.command == "security":
            from dialer.cli import security as security_cli

            return security_cli.run(settings, args)
        from dialer.cli import compliance as compliance_cli
        from dialer.cli import trunk as trunk_cli

        if args.command in trunk_cli.COMMANDS:
            return trunk_cli.run(settings, args) or 0
        result = compliance_cli.run(settings, args)   # prints its own errors, returns 2
        if result is not None:
            return result
        from dialer.cli import admin

        result = admin.run(settings, args)
        if result is not None:
            return result
    except (SettingsError, PbxError, RootfsError) as exc:
        print(f"dialer: {exc}", file=sys.stderr)
        return 2
    except admin_errors() as exc:
        print(f"dialer: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
