"""`dialer security check` (what listens where, known-default secrets, file modes, transport),
`dialer security sip-password N` (a seat's SIP password, for a desk phone) and
`dialer security dev-cert` (a self-signed certificate for wss:// and https:// in development)."""

from __future__ import annotations

import argparse
from typing import Any

from dialer.config.exposure import exposed_defaults, listeners, loose_files
from dialer.config.secrets import SECRETS_NAME
from dialer.config.settings import Settings, SettingsError
from dialer.config.sip_transport import describe


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    secrets_file = settings.runtime_dir / SECRETS_NAME
    print(f"installation secrets: {secrets_file}")
    for lst in listeners(settings):
        where = "loopback" if lst.loopback else "BEYOND LOOPBACK"
        secret = "KNOWN DEFAULT" if lst.default_secret else "own"
        print(f"  {lst.what}: {lst.address}:{lst.port} ({where}); "
              f"{lst.secret_setting}: {secret}")
    sv = settings.service
    if sv.tls_cert:
        print(f"  transport: agent link {sv.link_url} and supervisor page {sv.web_url} over TLS "
              f"({sv.tls_cert})")
    else:
        print("  transport: agent link ws:// and supervisor page http:// without TLS (set "
              "[service] tls_cert and tls_key; `dialer security dev-cert` makes a development "
              "one)")
    print(f"  transport: {describe(settings.agents.transport, settings.pbx.sip_port)}")
    loose = loose_files(settings)
    for line in loose:
        print(f"  file: {line}")
    if not loose:
        print("  files: secrets, rendered PBX configuration and database are owner-only")
    problems = exposed_defaults(settings)
    for line in problems:
        print(f"security check: FAIL: {line}")
    if loose:
        print(f"security check: FAIL: {len(loose)} file(s) others can read "
              f"(chmod go-rwx them; `dialer pbx up` writes owner-only files)")
    if problems or loose:
        return 1
    print("security check: ok")
    return 0


def cmd_sip_password(settings: Settings, args: argparse.Namespace) -> int:
    if args.seat not in settings.agents.numbers():
        seats = settings.agents.numbers()
        raise SettingsError(f"security sip-password: {args.seat} is not a seat (seats are "
                            f"{seats.start}-{seats.stop - 1}, [agents] first and count)")
    print(f"agent{args.seat} {settings.agents.sip_password(args.seat)}")
    return 0


def cmd_dev_cert(settings: Settings, args: argparse.Namespace) -> int:
    from dialer.service.tls import TlsError, make_dev_cert

    directory = settings.runtime_dir / "tls"
    if (directory / "dev.crt").exists() and not args.force:
        print(f"security dev-cert: {directory / 'dev.crt'} is there already (--force makes a "
              f"new one)")
        return 0
    try:
        cert, key = make_dev_cert(directory, args.name)
    except TlsError as exc:
        raise SettingsError(f"security dev-cert: {exc}") from None
    print(f"security dev-cert: made {cert} and {key} (self-signed, for development)")
    print("  to use it, in the service's configuration file:")
    print(f'    [service]\n    tls_cert = "{cert}"\n    tls_key = "{key}"')
    print(f"  agents' softphones elsewhere trust it with OPENDIALER_CA_FILE={cert} (a copy)")
    return 0


def add_parsers(sub: Any) -> None:
    sec = sub.add_parser("security", help="what listens where, default secrets, file modes")
    s = sec.add_subparsers(dest="action", required=True)
    s.add_parser("check", help="list listeners, known-default secrets and loose file modes; "
                 "exits 1 when something is exposed with a known secret or readable by others")
    pw = s.add_parser("sip-password", help="a seat's own SIP password (for a desk phone; the "
                      "softphone gets it from the dialer at login)")
    pw.add_argument("seat", type=int, help="seat number, e.g. 1001")
    dev = s.add_parser("dev-cert", help="make a self-signed certificate (var/tls/) for wss:// "
                       "and https:// in development")
    dev.add_argument("--name", action="append", default=[],
                     help="another host name or address the certificate is for (repeatable)")
    dev.add_argument("--force", action="store_true", help="replace the one made before")


def run(settings: Settings, args: argparse.Namespace) -> int:
    handlers = {"check": cmd_check, "sip-password": cmd_sip_password, "dev-cert": cmd_dev_cert}
    return handlers[args.action](settings, args)
