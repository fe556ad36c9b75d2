"""Trunks without a PBX: the TOML checks (every error names the field), the PJSIP sections they
render, masked secrets, the trunk selector's failover and caps, and the pure parts of the trunk
and QA commands (registration states, QA verdicts)."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from dialer.cli.trunk import RegStatus, parse_registrations, sip_answer
from dialer.config.settings import REPO_ROOT, load_settings
from dialer.config.trunks import (
    DEFAULT_PATH,
    Secret,
    Trunk,
    TrunkError,
    TrunkFault,
    TrunkKind,
    TrunkSelector,
    fault_of,
    load_trunks,
    parse_trunks,
)
from dialer.pbx.render import render_all
from dialer.pbx.trunk_conf import pjsip_conf
from dialer.qa.calls import EXTENSIONS, Observation, judge, sound_seconds

PLACES = {"CARRIER_HOST": "127.0.0.1", "CARRIER_SIP_PORT": "5080"}

REG = """
[[trunk]]
name = "acme"
kind = "registration"
server = "sip.acme.example:5070"
username = "acct-7"
password = "s3cret-pw"
max_channels = 30
codecs = ["alaw", "ulaw"]
caller_id = '"Acme Sales" <+15550100001>'
"""

IP = """
[[trunk]]
name = "ipco"
kind = "ip"
host = "192.0.2.10"
match = ["192.0.2.10", "198.51.100.0/24"]
max_channels = 10
"""


def one(text: str, **env: str) -> Trunk:
    trunks = parse_trunks(text, "trunks.toml", PLACES, env)
    assert len(trunks) == 1
    return trunks[0]


# ------------------------------------------------------------------------------ parsing
def test_the_shipped_file_has_the_carrier_ip_trunk_and_a_registration_trunk() -> None:
    trunks = load_trunks(DEFAULT_PATH, PLACES, env={})
    by_name = {t.name: t for t in trunks}
    carrier = by_name["carrier"]
    assert carrier.kind is TrunkKind.IP and carrier.target == "127.0.0.1:5080"
    assert carrier.match == ("127.0.0.1:5080",)
    reg = by_name["carrier-reg"]
    assert reg.kind is TrunkKind.REGISTRATION and reg.username == "dialer-reg"
    assert reg.password is not None and reg.password.reveal().startswith("dev-only-")


def test_registration_and_ip_trunks_parse_with_defaults() -> None:
    t = one(REG)
    assert (t.host, t.port, t.max_channels, t.codecs) == ("sip.acme.example", 5070, 30,
                                                          ("alaw", "ulaw"))
    assert t.caller_id == '"Acme Sales" <+15550100001>' and t.context == "from-carrier"
    ip = one(IP)
    assert (ip.host, ip.port, ip.codecs) == ("192.0.2.10", 5060, ("ulaw", "alaw"))
    assert ip.match == ("192.0.2.10", "198.51.100.0/24")


@pytest.mark.parametrize(("old", "new", "message"), [
    ("max_channels = 30", "max_channels = 0", 'trunk "acme": max_channels must be a positive'),
    ("max_channels = 30", "max_channels = true", "max_channels must be a positive integer"),
    ("max_channels = 30", "", "max_channels is missing"),
    ('kind = "registration"', 'kind = "peer"', 'kind must be "registration" or "ip"'),
    ('server = "sip.acme.example:5070"', 'server = "sip.acme.example:99999"',
     "server must be HOST or HOST:PORT with a port 1-65535"),
    ('server = "sip.acme.example:5070"', 'server = "bad host"', "server must be an IPv4"),
    ('server = "sip.acme.example:5070"\n', "", "server is missing"),
    ('username = "acct-7"', 'username = "a b"', "username 'a b' has characters"),
    ('password = "s3cret-pw"', "", "give exactly one of password and password_env"),
    ('password = "s3cret-pw"', 'password = "x"\npassword_env = "Y"', "exactly one of"),
    ('password = "s3cret-pw"', 'password_env = "NOT_SET_HERE"', "NOT_SET_HERE, which is not set"),
    ('codecs = ["alaw", "ulaw"]', 'codecs = ["ulaw", "mp3"]', "codecs: unknown codec 'mp3'"),
    ('codecs = ["alaw", "ulaw"]', 'codecs = ["g722"]', "codecs must include ulaw or alaw"),
    ('codecs = ["alaw", "ulaw"]', 'codecs = ["ulaw", "ulaw"]', "names a codec twice"),
    ('codecs = ["alaw", "ulaw"]', "codecs = []", "codecs must name at least one codec"),
    ('codecs = ["alaw", "ulaw"]', 'codecs = "ulaw"', "codecs must be a list"),
    ("caller_id = '\"Acme Sales\" <+15550100001>'", 'caller_id = "Acme"', "caller_id must be"),
    ('name = "acme"', 'name = "bad name"', "trunk #1: name 'bad name' must be"),
    ('name = "acme"', 'name = "agent1001"', "name 'agent1001' is reserved"),
    ('name = "acme"', 'name = "transport-udp"', "name 'transport-udp' is reserved"),
    ('name = "acme"\n', "", "trunk #1: name is missing"),
    ("max_channels = 30", "max_channels = 30\nmatch = ['1.2.3.4']",
     "match is for ip trunks, not registration trunks"),
    ("max_channels = 30", "max_chanels = 30\nmax_channels = 3", "unknown setting 'max_chanels'"),
    ("max_channels = 30", "max_channels = 30\nexpiration = 5", "expiration must be whole seconds"),
    ('server = "sip.acme.example:5070"', 'server = "@@NOPE@@"', "unknown placeholder @@NOPE@@"),
    ("[[trunk]]", "[[trunk]", "trunks.toml: not valid TOML"),
])
def test_bad_settings_are_refused_naming_the_trunk_and_field(old: str, new: str,
                                                             message: str) -> None:
    assert old in REG
    with pytest.raises(TrunkError, match=re.escape(message)) as err:
        parse_trunks(REG.replace(old, new, 1), "trunks.toml", PLACES, {})
    assert str(err.value).startswith("trunks.toml: ")
    assert "s3cret-pw" not in str(err.value)


@pytest.mark.parametrize(("old", "new", "message"), [
    ('host = "192.0.2.10"', 'host = "192.0.2.10:0"', "host must be HOST or HOST:PORT"),
    ('match = ["192.0.2.10", "198.51.100.0/24"]', 'match = ["nowhere"]',
     "match: 'nowhere' is not an IP address"),
    ('match = ["192.0.2.10", "198.51.100.0/24"]', "match = []", "match must be a list"),
    ("max_channels = 10", 'max_channels = 10\nusername = "u"',
     "username is for registration trunks, not ip trunks"),
])
def test_bad_ip_trunk_settings_name_the_field(old: str, new: str, message: str) -> None:
    with pytest.raises(TrunkError, match=re.escape(f'trunk "ipco": {message}')):
        parse_trunks(IP.replace(old, new, 1), "trunks.toml", PLACES, {})


def test_duplicate_names_and_stray_top_level_keys_are_refused() -> None:
    with pytest.raises(TrunkError, match='trunk "acme": name is used by another trunk'):
        parse_trunks(REG + REG.replace("acct-7", "acct-8"), "trunks.toml", PLACES, {})
    with pytest.raises(TrunkError, match="unknown top-level setting 'trunks'"):
        parse_trunks("[[trunks]]\nname='x'\n", "trunks.toml", PLACES, {})


def test_password_env_is_read_from_the_environment() -> None:
    t = one(REG.replace('password = "s3cret-pw"', 'password_env = "ACME_PW"'),
            ACME_PW="from-env")
    assert t.password is not None and t.password.reveal() == "from-env"
    assert t.password_env == "ACME_PW"
    assert "$ACME_PW" in t.describe() and "from-env" not in t.describe()


def test_secrets_are_never_printed() -> None:
    t = one(REG)
    for shown in (repr(t), str(t), t.describe(), repr([t]), f"{t.password}"):
        assert "s3cret-pw" not in shown
    assert "********" in repr(t)
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")


# ------------------------------------------------------------------------------ rendering
OLD_STATIC_CARRIER = """[carrier]
type = endpoint
transport = transport-udp
context = from-carrier
disallow = all
allow = ulaw,alaw
aors = carrier
direct_media = no
send_rpid = yes
dtmf_mode = rfc4733

[carrier]
type = aor
contact = sip:127.0.0.1:5080
qualify_frequency = 0

[carrier]
type = identify
endpoint = carrier
match = 127.0.0.1:5080"""


def _sections(text: str) -> list[tuple[str, dict[str, list[str]]]]:
    out: list[tuple[str, dict[str, list[str]]]] = []
    for line in text.splitlines():
        line = line.split(";", 1)[0].strip()
        if line.startswith("["):
            out.append((line.strip("[]"), {}))
        elif "=" in line and out:
            key, value = (p.strip() for p in line.split("=", 1))
            out[-1][1].setdefault(key, []).append(value)
    return out


def test_the_carrier_trunk_renders_what_pjsip_conf_used_to_hold() -> None:
    trunks = load_trunks(DEFAULT_PATH, PLACES, env={})
    rendered = _sections(pjsip_conf([t for t in trunks if t.name == "carrier"]))
    old = _sections(OLD_STATIC_CARRIER)
    assert len(rendered) == len(old) == 3
    for (name, new_opts), (old_name, old_opts) in zip(rendered, old, strict=True):
        assert name == old_name
        # the same options, plus the channel cap's device state, the OPTIONS pings, no
        # connected-line updates either way and identification by address only
        added = {"device_state_busy_at", "qualify_frequency", "qualify_timeout",
                 "send_connected_line", "trust_connected_line", "identify_by"}
        assert {k: v for k, v in new_opts.items() if k not in added} == \
            {k: v for k, v in old_opts.items() if k not in added}
    assert rendered[0][1]["device_state_busy_at"] == ["200"]
    assert rendered[0][1]["identify_by"] == ["ip"]
    assert rendered[1][1]["qualify_frequency"] == ["10"]
    assert rendered[1][1]["qualify_timeout"] == ["3.0"]


@pytest.mark.parametrize("text", [REG, IP], ids=["registration", "ip"])
def test_the_carrier_gets_the_caller_id_on_the_invite_and_no_identity_update_after_it(
        text: str) -> None:
    endpoint = next(opts for _n, opts in _sections(pjsip_conf([one(text)]))
                    if opts["type"] == ["endpoint"])
    # bridging the customer to an agent sends the carrier no re-INVITE or UPDATE with the agent
    # leg's identity (a strict carrier refuses it or drops the call), and the carrier's own
    # identity updates are not passed on
    assert endpoint["send_connected_line"] == ["no"]
    assert endpoint["trust_connected_line"] == ["no"]
    # the caller ID the dialer sets still goes out on the INVITE (From and Remote-Party-ID)
    assert endpoint["send_rpid"] == ["yes"]
    assert "trust_id_outbound" not in endpoint and "send_pai" not in endpoint


def test_every_shipped_trunk_renders_without_connected_line_updates() -> None:
    rendered = _sections(pjsip_conf(load_trunks(DEFAULT_PATH, PLACES, env={})))
    endpoints = {name: opts for name, opts in rendered if opts["type"] == ["endpoint"]}
    assert set(endpoints) == {"carrier", "carrier-reg"}
    assert all(opts["send_connected_line"] == ["no"] for opts in endpoints.values())


def test_qualify_is_set_per_trunk_and_checked() -> None:
    never = REG.replace('name = "acme"', 'name = "acme"\nqualify_s = 0')
    quiet = _sections(pjsip_conf([one(never)]))
    aor = next(opts for _n, opts in quiet if opts["type"] == ["aor"])
    assert aor["qualify_frequency"] == ["0"] and "qualify_timeout" not in aor
    for bad in ("4", "3601", "true", '"10"'):
        with pytest.raises(TrunkError, match="qualify_s must be whole seconds, 5-3600, or 0"):
            one(REG.replace('name = "acme"', f'name = "acme"\nqualify_s = {bad}'))


def test_a_test_call_that_only_timed_out_does_not_claim_the_trunk_works() -> None:
    from dialer.cli.trunk import TrunkTestReport
    from dialer.qa.testcall import TestCallResult

    ip = one(IP)
    silent = TestCallResult("+12125550123", "c1", ended_ms=10013.0, cause=19,
                            cause_txt="User alerting, no answer", sip_status=480)
    text = TrunkTestReport(ip, "+12125550123", None, silent, 1.0, "Unavail").describe()
    assert "reachable: NO: it does not answer OPTIONS pings" in text
    assert "NO ANSWER of any kind within the ring timeout, not even ringing" in text
    assert "carries calls" not in text
    refused = TrunkTestReport(ip, "+12125550123", None, TestCallResult("+12125550123", ""), 1.0,
                              "Unavail", refused="ARI POST /channels: 500 Allocation failed")
    text = refused.describe()
    assert "SIP answer: none: the PBX did not place the call (ARI POST" in text
    assert "the trunk is UNREACHABLE: a campaign fails over to its next trunk" in text


def test_a_registration_trunk_renders_auth_registration_and_endpoint() -> None:
    sections = dict((opts["type"][0], (name, opts)) for name, opts in
                    _sections(pjsip_conf([one(REG)])))
    assert set(sections) == {"endpoint", "aor", "auth", "registration"}
    assert all(name == "acme" for name, _ in sections.values())
    ep = sections["endpoint"][1]
    assert ep["outbound_auth"] == ["acme"] and ep["from_user"] == ["acct-7"]
    assert ep["allow"] == ["alaw,ulaw"] and ep["device_state_busy_at"] == ["30"]
    auth = sections["auth"][1]
    assert auth["username"] == ["acct-7"] and auth["password"] == ["s3cret-pw"]
    reg = sections["registration"][1]
    assert reg["server_uri"] == ["sip:sip.acme.example:5070"]
    assert reg["client_uri"] == ["sip:acct-7@sip.acme.example:5070"]
    assert reg["outbound_auth"] == ["acme"] and reg["endpoint"] == ["acme"]
    assert sections["aor"][1]["contact"] == ["sip:sip.acme.example:5070"]


def test_an_ip_trunk_identifies_every_match() -> None:
    sections = _sections(pjsip_conf([one(IP)]))
    identify = [opts for _, opts in sections if opts["type"] == ["identify"]][0]
    assert identify["match"] == ["192.0.2.10", "198.51.100.0/24"]
    assert not [o for _, o in sections if o["type"] in (["auth"], ["registration"])]


def test_render_writes_the_trunks_file_and_refuses_bad_trunks_before_writing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings({"OPENDIALER_RUNTIME_DIR": str(tmp_path / "var")})
    monkeypatch.delenv("OPENDIALER_TRUNKS", raising=False)
    out = render_all(settings)
    trunks_conf = out["pbx"] / "pjsip_trunks.conf"
    assert "[carrier-reg]" in trunks_conf.read_text()
    assert stat.S_IMODE(trunks_conf.stat().st_mode) == 0o600
    assert "#include pjsip_trunks.conf" in (out["pbx"] / "pjsip.conf").read_text()
    before = {p.name: p.read_text() for p in out["pbx"].iterdir()}
    bad = tmp_path / "bad.toml"
    bad.write_text((REPO_ROOT / "config/trunks.toml").read_text()
                   .replace("max_channels = 50", "max_channels = -1"))
    monkeypatch.setenv("OPENDIALER_TRUNKS", str(bad))
    with pytest.raises(TrunkError, match='bad.toml: trunk "carrier-reg": max_channels'):
        render_all(settings)
    assert {p.name: p.read_text() for p in out["pbx"].iterdir()} == before
    assert not (tmp_path / "var/etc/pbx.new").exists()


# ------------------------------------------------------------------------------ selector
def test_selector_prefers_the_first_trunk_under_its_cap() -> None:
    sel = TrunkSelector({"a": 2, "b": 1})
    assert sel.select(["a", "b"], {}, now=0) == "a"
    assert sel.select(["a", "b"], {"a": 1}, now=0) == "a"
    assert sel.select(["a", "b"], {"a": 2}, now=0) == "b"
    assert sel.select(["a", "b"], {"a": 2, "b": 1}, now=0) is None   # every cap reached
    assert sel.select(["b", "a"], {}, now=0) == "b"                   # the campaign's order
    assert sel.free_channels(["a", "b"], {"a": 1}, now=0) == 2


def test_a_failed_trunk_is_skipped_until_its_time() -> None:
    sel = TrunkSelector({"a": 5, "b": 5}, hold_off=30)
    sel.mark_failed("a", TrunkFault.CONGESTION, now=100)
    assert sel.select(["a", "b"], {}, now=100) == "b"
    assert sel.select(["a", "b"], {}, now=129.9) == "b"
    assert set(sel.failures(now=110)) == {"a"}
    assert sel.free_channels(["a", "b"], {}, now=110) == 5
    assert sel.select(["a", "b"], {}, now=130) == "a"                 # hold-off over
    assert sel.failures(now=130) == {}
    sel.mark_failed("b", TrunkFault.UNREACHABLE, now=0, until=10)
    sel.mark_failed("a", TrunkFault.UNREACHABLE, now=0, until=20)
    assert sel.select(["a", "b"], {}, now=5) is None                  # all failed
    assert sel.select(["a", "b"], {}, now=15) == "b"
    sel.mark_ok("a")
    assert sel.select(["a", "b"], {}, now=15) == "a"


def test_failover_for_one_call_excludes_the_trunks_it_tried() -> None:
    sel = TrunkSelector({"a": 5, "b": 5, "c": 5})
    assert sel.select(["a", "b", "c"], {}, now=0, exclude={"a"}) == "b"
    assert sel.select(["a", "b", "c"], {}, now=0, exclude={"a", "b", "c"}) is None


def test_selector_refuses_unknown_trunks() -> None:
    sel = TrunkSelector.for_trunks(load_trunks(DEFAULT_PATH, PLACES, env={}))
    assert sel.max_channels == {"carrier": 200, "carrier-reg": 50}
    with pytest.raises(ValueError, match="unknown trunk 'nope'"):
        sel.select(["nope"], {}, now=0)
    with pytest.raises(ValueError, match="unknown trunk"):
        sel.mark_failed("nope", TrunkFault.CONGESTION, now=0)


@pytest.mark.parametrize(("cause", "sip", "fault"), [
    (34, 503, TrunkFault.CONGESTION), (34, None, TrunkFault.CONGESTION),
    (42, None, TrunkFault.CONGESTION), (18, 408, TrunkFault.UNREACHABLE),
    (102, None, TrunkFault.UNREACHABLE), (38, 502, TrunkFault.UNREACHABLE),
    (17, 486, None), (19, 480, None), (21, 603, None), (1, 404, None), (16, None, None),
    (21, 401, None), (21, 403, None),
])
def test_trunk_faults_come_from_the_sip_status_and_cause(cause: int, sip: int | None,
                                                        fault: TrunkFault | None) -> None:
    assert fault_of(cause, sip) is fault


# ------------------------------------------------------------------------------ commands, QA
SHOW_REGISTRATIONS = """
 <Registration/ServerURI..............................>  <Auth....................>  <Status.......>
==========================================================================================

 carrier-badpass/sip:127.0.0.1:5080                      carrier-badpass             Rejected          (exp. 13s ago)
 carrier-reg/sip:127.0.0.1:5080                          carrier-reg                 Registered        (exp. 287s)
 noauth/sip:192.0.2.1:5060                                                           Unregistered

Objects found: 3
"""  # noqa: E501


def test_registration_states_are_read_from_the_cli() -> None:
    regs = parse_registrations(SHOW_REGISTRATIONS)
    assert {n: r.status for n, r in regs.items()} == {
        "carrier-badpass": RegStatus.REJECTED, "carrier-reg": RegStatus.REGISTERED,
        "noauth": RegStatus.UNREGISTERED}
    assert regs["carrier-reg"].describe() == "registered (next REGISTER in 287 s)"
    assert "REJECTED" in regs["carrier-badpass"].describe()
    assert sip_answer(503) == "503 Service Unavailable" and sip_answer(None).startswith("no SIP")


def test_qa_verdicts_name_what_was_heard() -> None:
    tone = Observation("9197", answered=True, heard_hz=1004.0, tone_share=0.99,
                       heard_dbfs=-6.0)
    report = judge(EXTENSIONS["9197"], tone)
    assert report.passed and "1004 Hz" in report.describe()
    wrong = Observation("9197", answered=True, heard_hz=440.0, tone_share=0.99, heard_dbfs=-6.0)
    assert not judge(EXTENSIONS["9197"], wrong).passed
    dtmf = Observation("9199", answered=True, dtmf_sent="2580#", dtmf_back="258", sound_s=3.0)
    report = judge(EXTENSIONS["9199"], dtmf)
    assert not report.passed and "read back as DTMF: 258" in report.describe()
    busy = judge(EXTENSIONS["9195"], Observation("9195", code=486, reason="Busy Here"))
    assert busy.passed
    ring = Observation("9194", ringing_ms=5.0, code=487, hung_up_by="us")
    assert judge(EXTENSIONS["9194"], ring).passed
    assert not judge(EXTENSIONS["9194"], Observation("9194", answered=True)).passed
    assert not judge(EXTENSIONS["9196"], Observation("9196", error="no SIP")).passed


def test_sound_seconds_bridges_short_gaps_only() -> None:
    loud, quiet = -20.0, -80.0
    levels = [quiet] * 5 + [loud] * 10 + [quiet] * 5 + [loud] * 10 + [quiet] * 50 + [loud] * 5
    # 10 + 5 bridged + 10, then a 1 s gap: +5
    assert sound_seconds(levels, 20) == pytest.approx((25 + 5) * 0.02)
    assert sound_seconds([quiet] * 10, 20) == 0.0
