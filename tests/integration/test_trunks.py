"""Trunks against the real PBX and the simulated carrier: a registration trunk (the carrier checks
the password and refuses calls until the PBX has registered) and an IP trunk carry calls with audio
both ways; a wrong password is a failed registration; a congested trunk fails over to a working
one; the channel cap holds; a reload during calls keeps them up; bad settings are refused with the
field named and nothing reloaded.

These tests reload, unregister and re-register trunks, so they run on a PBX and carrier of their
own (other ports, runtime directory in a temporary folder; started in about a second), never on
the shared session PBX. Its trunks are the shipped ones plus two (`carrier-badpass`: the
registration account with a wrong password; `carrier-congested`: the carrier's account that
answers 503 to everything), from a file of their own (OPENDIALER_TRUNKS).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from dialer.ari import AriClient
from dialer.cli.trunk import (
    RegStatus,
    TrunkTestReport,
    contact_status,
    registrations,
    reload_trunks,
    trunk_test_call,
    wait_registrations,
)
from dialer.config.settings import REPO_ROOT, Settings, load_settings
from dialer.config.trunks import Trunk, TrunkError, TrunkFault, TrunkSelector, fault_of
from dialer.core.campaign import CampaignStatus
from dialer.core.results import AttemptPhase
from dialer.db import repository as repo
from dialer.db.campaigns import set_campaign_status
from dialer.db.models import AttemptEvent
from dialer.pbx import Backend
from dialer.pbx.chroot import ChrootBackend
from dialer.qa.carrier_plan import Behaviour, number_for
from dialer.service.client import scripted_agent
from tests.integration.dialer_env import DialerEnv, dialer_env, password

pytestmark = [
    pytest.mark.pbx,
    pytest.mark.skipif(os.environ.get("OPENDIALER_PBX_BACKEND") == "docker",
                       reason="runs its own PBX with the Docker-less back end"),
]

SHIPPED = (REPO_ROOT / "config/trunks.toml").read_text()
EXTRA = """
[[trunk]]
name = "carrier-badpass"
kind = "registration"
server = "@@CARRIER_HOST@@:@@CARRIER_SIP_PORT@@"
username = "dialer-reg"
password = "not-the-password"
max_channels = 5

[[trunk]]
name = "carrier-congested"
kind = "registration"
server = "@@CARRIER_HOST@@:@@CARRIER_SIP_PORT@@"
username = "dialer-congested"
password = "dev-only-congested-secret"
max_channels = 5

[[trunk]]
# nothing listens there: the PBX's OPTIONS pings go unanswered and mark it unreachable
name = "carrier-dead"
kind = "ip"
host = "127.0.0.2:5999"
max_channels = 5
qualify_s = 5
"""
ANSWERS = number_for(Behaviour.ANSWER, 0, 0)      # answers at once, talks until we hang up
PORTS = [("sip_port = 5060", "sip_port = 5460"), ("http_port = 8088", "http_port = 8488"),
         ("rtp_start = 10000", "rtp_start = 12400"), ("rtp_end = 10999", "rtp_end = 12499"),
         ("sip_port = 5080", "sip_port = 5480"), ("rtp_start = 11000", "rtp_start = 12500"),
         ("rtp_end = 11999", "rtp_end = 12599")]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of this module's PBX: its settings, runtime directory and trunks."""
    base = tmp_path_factory.mktemp("trunks-pbx")
    text = (REPO_ROOT / "config/opendialer.toml").read_text()
    for old, new in PORTS:
        assert old in text
        text = text.replace(old, new)
    (base / "opendialer.toml").write_text(text)
    (base / "trunks.toml").write_text(SHIPPED + EXTRA)
    return {"OPENDIALER_CONFIG": str(base / "opendialer.toml"),
            "OPENDIALER_RUNTIME_DIR": str(base / "var"),
            "OPENDIALER_TRUNKS": str(base / "trunks.toml")}


@pytest.fixture(scope="module")
def settings(env: dict[str, str]) -> Settings:
    return load_settings(env)


@pytest.fixture(scope="module")
def pbx(env: dict[str, str], settings: Settings) -> Iterator[Backend]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENDIALER_TRUNKS", env["OPENDIALER_TRUNKS"])
        be = ChrootBackend(settings, log=lambda _m: None)
        be.up()
        try:
            yield be
        finally:
            be.down()


@pytest.fixture(scope="module")
def trunks(pbx: Backend, settings: Settings) -> dict[str, Trunk]:
    report = reload_trunks(settings, pbx)      # (nothing changed) waits for the registrations
    assert report.ok, report.missing
    return {t.name: t for t in report.trunks}


def _env(env: dict[str, str], **extra: str) -> dict[str, str]:
    return {**os.environ, **env, **extra}


async def _test(settings: Settings, pbx: Backend, trunk: Trunk, number: str = ANSWERS,
                talk: float = 1.0) -> TrunkTestReport:
    return await trunk_test_call(settings, pbx, trunk, number, talk=talk, ring_timeout=10)


# ------------------------------------------------------------------------------ registration
async def test_registration_trunk_registers_and_carries_a_call_with_audio_both_ways(
        pbx: Backend, settings: Settings, trunks: dict[str, Trunk]) -> None:
    regs = await asyncio.to_thread(wait_registrations, pbx, ["carrier-reg"])
    assert regs["carrier-reg"].status is RegStatus.REGISTERED
    assert "dialer-reg/sip:carrier-reg@" in pbx.rx("carrier", "pjsip show contacts")
    rep = await _test(settings, pbx, trunks["carrier-reg"])
    text = rep.describe()
    assert rep.passed, text
    assert "registration: registered" in text and "SIP answer: 200 OK" in text
    assert "audio from the far end: yes" in text and "audio to the far end: yes" in text
    assert rep.call.customer_heard_probe > 0.9


async def test_a_wrong_password_is_a_failed_registration_and_a_refused_call(
        pbx: Backend, settings: Settings, trunks: dict[str, Trunk]) -> None:
    regs = await asyncio.to_thread(wait_registrations, pbx, ["carrier-badpass"])
    assert regs["carrier-badpass"].status is RegStatus.REJECTED
    rep = await _test(settings, pbx, trunks["carrier-badpass"])
    assert not rep.passed and rep.call.sip_status == 401
    assert rep.fault is None    # a credentials problem, not a reason to fail over
    assert "REFUSED our credentials" in rep.describe()


async def test_the_carrier_refuses_calls_until_the_trunk_registers(
        pbx: Backend, settings: Settings, trunks: dict[str, Trunk]) -> None:
    pbx.rx("pbx", "pjsip send unregister carrier-reg")
    try:
        regs = await asyncio.to_thread(wait_registrations, pbx, ["carrier-reg"], 5.0,
                                       (RegStatus.UNREGISTERED,))
        assert regs["carrier-reg"].status is RegStatus.UNREGISTERED
        rep = await _test(settings, pbx, trunks["carrier-reg"])
        assert not rep.call.answered and rep.call.sip_status == 403, rep.describe()
        assert "not registered" in rep.describe()
    finally:
        pbx.rx("pbx", "pjsip send register carrier-reg")
    regs = await asyncio.to_thread(wait_registrations, pbx, ["carrier-reg"])
    assert regs["carrier-reg"].status is RegStatus.REGISTERED
    assert (await _test(settings, pbx, trunks["carrier-reg"])).passed


# ------------------------------------------------------------------------------ IP trunk
def test_ip_trunk_test_command_reports_in_plain_words(env: dict[str, str],
                                                      trunks: dict[str, Trunk]) -> None:
    res = subprocess.run([sys.executable, "-m", "dialer.cli.trunk", "trunk", "test", "carrier",
                          number_for(Behaviour.ANSWER, 1, 0), "--talk", "1"],
                         capture_output=True, text=True, timeout=60, env=_env(env))
    out = res.stdout
    assert res.returncode == 0, out + res.stderr
    assert "trunk carrier: IP trunk to" in out
    assert "registration: none needed" in out
    assert "SIP answer: 200 OK, ringing after" in out and "answered after" in out
    assert "audio from the far end: yes" in out and "audio to the far end: yes" in out
    assert "result: the trunk works" in out
    assert "dev-only" not in out


# ------------------------------------------------------------------------------ failover, cap
async def test_failover_from_a_congested_trunk_to_a_working_one(
        pbx: Backend, settings: Settings, trunks: dict[str, Trunk]) -> None:
    campaign = ["carrier-congested", "carrier-reg"]
    selector = TrunkSelector.for_trunks(trunks.values(), hold_off=30)
    now = time.monotonic()
    tried: list[str] = []
    answered = None
    while (trunk := selector.select(campaign, {}, now, exclude=tried)) is not None:
        tried.append(trunk)
        rep = await _test(settings, pbx, trunks[trunk])
        if rep.call.answered:
            answered = rep
            break
        fault = fault_of(rep.call.cause, rep.call.sip_status)
        assert fault is TrunkFault.CONGESTION, rep.describe()
        assert (rep.call.sip_status, rep.call.cause) == (503, 34)
        selector.mark_failed(trunk, fault, now)
    assert tried == ["carrier-congested", "carrier-reg"]
    assert answered is not None and answered.passed, answered and answered.describe()
    # the next calls skip the congested trunk until its hold-off is over
    assert selector.select(campaign, {}, now + 1) == "carrier-reg"
    assert selector.select(campaign, {}, now + 31) == "carrier-congested"


async def test_the_channel_cap_sends_calls_to_the_next_trunk_and_then_none(
        pbx: Backend, settings: Settings, trunks: dict[str, Trunk]) -> None:
    campaign = ["carrier-reg", "carrier"]
    selector = TrunkSelector({"carrier-reg": 1, "carrier": 1})
    in_use: dict[str, int] = {}
    chosen = []
    for _ in range(3):
        trunk = selector.select(campaign, in_use, now=0)
        if trunk is None:
            break
        in_use[trunk] = in_use.get(trunk, 0) + 1
        chosen.append(trunk)
    assert chosen == ["carrier-reg", "carrier"]
    assert selector.free_channels(campaign, in_use, now=0) == 0
    # distinct numbers: the carrier records what each customer heard under its number
    calls = [asyncio.create_task(_test(settings, pbx, trunks[t], number_for(Behaviour.ANSWER,
                                                                            0, 0, tag), 2.5))
             for tag, t in enumerate(chosen, 1)]
    await asyncio.sleep(1.5)
    channels = pbx.rx("pbx", "pjsip show channels")
    assert "carrier-reg-" in channels and "carrier-0" in channels, channels
    for rep in await asyncio.gather(*calls):
        assert rep.passed, rep.describe()


# ------------------------------------------------------------------------------ reload
async def test_a_reload_during_calls_keeps_them_up(pbx: Backend, settings: Settings,
                                                   trunks: dict[str, Trunk],
                                                   tmp_path: Path) -> None:
    changed = tmp_path / "trunks.toml"
    changed.write_text((SHIPPED + EXTRA).replace("max_channels = 50", "max_channels = 49")
                       .replace("max_channels = 200", "max_channels = 199"))
    calls = [asyncio.create_task(_test(settings, pbx, trunks[t], number_for(Behaviour.ANSWER,
                                                                            0, 0, tag), 4))
             for tag, t in ((3, "carrier-reg"), (4, "carrier"))]
    await asyncio.sleep(1.5)
    assert len([ln for ln in pbx.rx("pbx", "pjsip show channels").splitlines()
                if "Channel:" in ln and "carrier" in ln]) >= 2
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENDIALER_TRUNKS", str(changed))
        report = await asyncio.to_thread(reload_trunks, settings, pbx)
    assert report.ok
    assert "49" in pbx.rx("pbx", "pjsip show endpoint carrier-reg").split(
        "device_state_busy_at")[1].splitlines()[0]
    for rep in await asyncio.gather(*calls):
        # the calls lasted their whole time and the dialer hung up; audio flowed throughout
        assert rep.passed, rep.describe()
        assert rep.call.hung_up_by == "dialer" and rep.call.cause == 16
        assert rep.call.customer_heard_probe > 0.9
    assert registrations(pbx)["carrier-reg"].status is RegStatus.REGISTERED


def test_bad_trunk_settings_are_refused_with_the_field_named_and_nothing_reloaded(
        pbx: Backend, settings: Settings, env: dict[str, str], trunks: dict[str, Trunk],
        tmp_path: Path) -> None:
    bad = tmp_path / "trunks.toml"
    bad.write_text(SHIPPED + EXTRA.replace("max_channels = 5\n", "max_channels = 0\n", 1)
                   + '\n[[trunk]]\nname = "carrier-new"\nkind = "ip"\n'
                   'host = "127.0.0.1:5999"\nmax_channels = 1\n')
    rendered = settings.runtime_dir / "etc/pbx/pjsip_trunks.conf"
    before = rendered.read_bytes()
    res = subprocess.run([sys.executable, "-m", "dialer.cli.trunk", "trunk", "reload"],
                         capture_output=True, text=True, timeout=30,
                         env=_env(env, OPENDIALER_TRUNKS=str(bad)))
    assert res.returncode == 2
    assert 'trunks.toml: trunk "carrier-badpass": max_channels must be a positive integer' \
        in res.stderr
    assert "not-the-password" not in res.stderr + res.stdout
    assert rendered.read_bytes() == before
    assert "Unable to find" in pbx.rx("pbx", "pjsip show endpoint carrier-new")
    check = subprocess.run([sys.executable, "-m", "dialer.cli.trunk", "trunk", "check"],
                           capture_output=True, text=True, timeout=30,
                           env=_env(env, OPENDIALER_TRUNKS=str(bad)))
    assert check.returncode == 2 and "max_channels" in check.stderr
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENDIALER_TRUNKS", str(bad))
        with pytest.raises(TrunkError, match="max_channels"):
            reload_trunks(settings, pbx)
    assert rendered.read_bytes() == before


# ------------------------------------------------------------------------------ under a campaign
async def _run_campaign(settings: Settings, tmp_path: Path, trunks_file: Path, seats: list[int],
                        numbers: list[str], trunk: str,
                        watch: Callable[[DialerEnv], Awaitable[None]] | None = None,
                        caller_id: str | None = "+12125550100",
                        ) -> tuple[repo.CampaignSummary, list[AttemptEvent], list[str]]:
    """Run a progressive campaign on this module's PBX with the dialer's trunks from
    `trunks_file`, until every contact is done; its summary, ORIGINATED events and decisions."""
    decisions: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENDIALER_TRUNKS", str(trunks_file))
        async with dialer_env(settings, tmp_path, seats, numbers, trunk=trunk,
                              link_port=8767, caller_id=caller_id) as env:
            bots = [asyncio.create_task(scripted_agent(env.url, f"agent{s}", password(s), "SALE"))
                    for s in seats]
            for _ in range(300):
                if sum(1 for a in env.engine.floor.seats.values() if a.leg.value == "up"
                       and a.machine.state.value == "ready") == len(seats):
                    break
                assert not any(b.done() for b in bots), [b.exception() for b in bots if b.done()]
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"the agents were not ready in 30 s: "
                                     f"{list(env.engine.floor.seats.values())}")
            set_campaign_status(env.db, env.campaign_id, CampaignStatus.STARTED)
            watcher = asyncio.create_task(watch(env)) if watch else None
            summary = repo.campaign_summary(env.db, env.campaign_id)
            for _ in range(600):
                await asyncio.sleep(0.1)
                run = env.engine.floor.runs.get(env.campaign_id)
                if run is not None and (not decisions or decisions[-1] != run.last_decision):
                    decisions.append(run.last_decision)
                summary = repo.campaign_summary(env.db, env.campaign_id)
                if (summary.attempts == len(numbers) and summary.open_attempts == 0
                        and sum(summary.dispositions.values()) == summary.connected):
                    break
            for task in [*bots, *([watcher] if watcher else [])]:
                task.cancel()
            await asyncio.gather(*bots, *([watcher] if watcher else []),
                                 return_exceptions=True)
            with env.db.session() as session:
                originated = list(session.scalars(
                    select(AttemptEvent).where(AttemptEvent.phase == AttemptPhase.ORIGINATED)
                    .order_by(AttemptEvent.id)).all())
    return summary, originated, decisions


def _caller_ids(settings: Settings, numbers: list[str]) -> set[str]:
    """The caller IDs the simulated carrier saw on calls to `numbers` (from its log)."""
    log = (settings.runtime_dir / "state/carrier/log/messages.log").read_text()
    return {line.rsplit(" from ", 1)[1].strip() for line in log.splitlines()
            if " from " in line and any(f"customer {n} " in line for n in numbers)}


async def test_a_campaign_fails_over_from_its_congested_trunk_and_then_skips_it(
        pbx: Backend, settings: Settings, trunks: dict[str, Trunk], env: dict[str, str],
        tmp_path: Path) -> None:
    numbers = [number_for(Behaviour.ANSWER, 0, 1, tag) for tag in range(4)]
    summary, originated, decisions = await _run_campaign(
        settings, tmp_path, Path(env["OPENDIALER_TRUNKS"]), [1001], numbers,
        '["carrier-congested", "carrier-reg"]')
    assert (summary.attempts, summary.connected, summary.abandoned) == (4, 4, 0)
    assert summary.dispositions == {"SALE": 4}
    route = [(e.attempt_id, (e.detail or {})["trunk"]) for e in originated]
    first3 = [a for a, _ in route][:6:2]
    # the first three calls each met the 503 and left again through carrier-reg, as the same
    # attempt; three 503s in a row mark the congested trunk failed, so the fourth goes around it
    assert route[:6] == [(a, t) for a in first3 for t in ("carrier-congested", "carrier-reg")]
    assert route[6:] == [(route[6][0], "carrier-reg")] and route[6][0] not in first3
    assert all((e.detail or {}).get("failed_over_from") == ["carrier-congested"]
               for e in originated[1:6:2])
    assert _caller_ids(settings, numbers) == {"+12125550100"}      # the campaign's own


async def test_an_unreachable_trunk_is_named_and_a_campaign_goes_around_it_at_once(
        pbx: Backend, settings: Settings, trunks: dict[str, Trunk], env: dict[str, str],
        tmp_path: Path) -> None:
    def states() -> tuple[str | None, str | None]:
        return contact_status(pbx, "carrier-dead"), contact_status(pbx, "carrier-reg")

    for _ in range(150):    # dead pinged every 5 s (unanswered after 3 s), carrier-reg every 10
        if states() == ("Unavail", "Avail"):
            break
        await asyncio.sleep(0.2)
    assert states() == ("Unavail", "Avail")
    started = time.monotonic()
    rep = await _test(settings, pbx, trunks["carrier-dead"])
    took = time.monotonic() - started
    text = rep.describe()
    assert "reachable: NO: it does not answer OPTIONS pings (pinged every 5 s)" in text
    assert "SIP answer: none: the PBX did not place the call" in text
    assert "result: the trunk is UNREACHABLE" in text and not rep.passed
    assert took < 5, f"took {took:.1f} s"   # not the 10 s ring timeout of the test call

    numbers = [number_for(Behaviour.ANSWER, 0, 1, tag) for tag in range(4, 8)]
    summary, originated, _decisions = await _run_campaign(
        settings, tmp_path, Path(env["OPENDIALER_TRUNKS"]), [1001], numbers,
        '["carrier-dead", "carrier-reg"]')
    assert (summary.attempts, summary.connected, summary.abandoned) == (4, 4, 0)
    # the PBX refuses the dead trunk's channel at once; the same attempt leaves through
    # carrier-reg; after three refusals in a row the dead trunk is skipped
    assert [(e.detail or {})["trunk"] for e in originated] == ["carrier-reg"] * 4
    assert [(e.detail or {}).get("failed_over_from") for e in originated] == \
        [["carrier-dead"]] * 3 + [None]


async def test_the_channel_cap_holds_under_a_campaign(
        pbx: Backend, settings: Settings, trunks: dict[str, Trunk], tmp_path: Path) -> None:
    capped = tmp_path / "trunks.toml"
    capped.write_text(SHIPPED.replace("max_channels = 50", "max_channels = 2"))
    seats = [1001, 1002, 1003, 1004]
    numbers = [number_for(Behaviour.ANSWER, 0, 3, tag) for tag in range(8)]
    most: list[str] = []

    async def customers(ari: AriClient) -> list[str]:
        return sorted(c["id"] for c in await ari.get("channels") if c["id"].startswith("cust-"))

    # attempt ids start at 1 in every test's database, so a customer channel left hanging up
    # by this module's previous test would be counted as this campaign's: wait it out first
    async with AriClient.from_settings(settings.pbx) as ari:
        for _ in range(200):
            if not (left := await customers(ari)):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"customer channels of an earlier test still up: {left}")

    async def count(env: DialerEnv) -> None:
        nonlocal most
        async with AriClient.from_settings(settings.pbx) as ari:
            while True:
                if len(up := await customers(ari)) > len(most):
                    most = up
                await asyncio.sleep(0.05)

    summary, originated, decisions = await _run_campaign(
        settings, tmp_path, capped, seats, numbers, '"carrier-reg"', count, caller_id=None)
    assert (summary.attempts, summary.connected, summary.abandoned) == (8, 8, 0)
    assert {(e.detail or {})["trunk"] for e in originated} == {"carrier-reg"}
    # four ready agents, but never more than the trunk's two channels at once
    assert len(most) == 2, most
    # the campaign sets no caller ID: the trunk's (config/trunks.toml) is sent
    assert _caller_ids(settings, numbers) == {"+15550100000"}
    assert any("not dialing: the campaign's trunks are full or failing (carrier-reg: 2/2)" in d
               for d in decisions), decisions
