"""The trunks of `config/trunks.toml` (`dialer.config.trunks`) written as Asterisk's PJSIP sections
(`pjsip_trunks.conf`, rendered by `dialer.pbx.render`): per trunk its endpoint, AOR, auth,
registration and identify sections. Every value was checked when the file was read.
"""

from __future__ import annotations

from collections.abc import Sequence

from dialer.config.trunks import Trunk, TrunkKind
from dialer.core.trunk_faults import TrunkFault as TrunkFault  # re-exported
from dialer.core.trunk_faults import TrunkSelector as TrunkSelector
from dialer.core.trunk_faults import fault_of as fault_of


def pjsip_conf(trunks: Sequence[Trunk], source: str = "config/trunks.toml") -> str:
    """The PJSIP sections of every trunk, for `pjsip_trunks.conf` (holds the passwords)."""
    out = [
        f"; Generated from {source} by `dialer pbx up` / `dialer trunk reload`. Do not edit:\n"
        "; edit the TOML and run `dialer trunk reload`. Holds trunk passwords.\n"
    ]
    for t in trunks:
        out.append(_trunk_sections(t))
    return "".join(out)


def _trunk_sections(t: Trunk) -> str:
    lines = [""]
    if t.kind is TrunkKind.REGISTRATION:
        lines.append(
            f"; ---- trunk {t.name}: registers as {t.username} at {t.target}; at most "
            f"{t.max_channels} channels (the dialer's pacing keeps to it)"
        )
    else:
        lines.append(
            f"; ---- trunk {t.name}: IP trunk to {t.target}, requests from "
            f"{', '.join(t.match)} are its; at most {t.max_channels} channels (the "
            "dialer's pacing keeps to it)"
        )
    if t.caller_id:
        lines.append(f"; caller ID on calls out (set by the dialer per call): {t.caller_id}")
    lines += [
        f"[{t.name}]",
        "type = endpoint",
        "transport = transport-udp",
        f"context = {t.context}",
        "disallow = all",
        f"allow = {','.join(t.codecs)}",
        f"aors = {t.name}",
        "direct_media = no",
        # the caller ID goes out on the INVITE only (From and Remote-Party-ID) ...
        "send_rpid = yes",
        # ... and nothing follows it: no re-INVITE or UPDATE carrying the agent leg's identity
        # when the dialer bridges the customer (a strict carrier refuses it or drops the
        # call, and it would leak an internal name); nor is the carrier's own identity update
        # passed on to the agent
        "send_connected_line = no",
        "trust_connected_line = no",
        "dtmf_mode = rfc4733",
        f"device_state_busy_at = {t.max_channels}",
        # never by the From user (anyone can write `From: <sip:carrier@...>`): an IP trunk's
        # requests are known by their source address ([identify] below); a registration trunk's
        # by the random `line` parameter of the Contact it registered, which Asterisk checks
        # before any identify_by (it has no [identify], so nothing else matches it)
        "identify_by = ip",
    ]
    if t.kind is TrunkKind.REGISTRATION:
        lines += [
            f"outbound_auth = {t.name}",
            f"from_user = {t.username}",
            f"from_domain = {t.host}",
        ]
    lines += ["", f"[{t.name}]", "type = aor", f"contact = {t.uri}",
              f"qualify_frequency = {t.qualify_s}"]
    if t.qualify_s:
        # an OPTIONS ping unanswered for 3 s marks the trunk unreachable: calls then fail at
        # once and go to the campaign's next trunk, instead of waiting out the ring timeout
        lines.append("qualify_timeout = 3.0")
    if t.kind is TrunkKind.REGISTRATION:
        assert t.password is not None and t.username is not None
        lines += [
            "",
            f"[{t.name}]",
            "type = auth",
            "auth_type = digest",
            f"username = {t.username}",
            f"password = {t.password.reveal()}",
            "",
            f"[{t.name}]",
            "type = registration",
            "transport = transport-udp",
            f"outbound_auth = {t.name}",
            f"server_uri = {t.uri}",
            f"client_uri = sip:{t.username}@{t.target}",
            f"contact_user = {t.name}",
            f"expiration = {t.expiration}",
            "retry_interval = 30",
            "forbidden_retry_interval = 300",
            "max_retries = 10000",
            "max_random_initial_delay = 0",
            "line = yes",
            f"endpoint = {t.name}",
        ]
    else:
        lines += [
            "",
            f"[{t.name}]",
            "type = identify",
            f"endpoint = {t.name}",
            *(f"match = {m}" for m in t.match),
        ]
    return "\n".join(lines) + "\n"
