"""The live dialer's view of its trunks, without a PBX: a campaign's trunk order, room under the
caps, caller ID precedence, failures kept across a reload, and a bad file refused on reload."""

from __future__ import annotations

import os
from pathlib import Path

from dialer.config.trunks import TrunkFault, load_trunks
from dialer.service.trunk_use import LiveTrunks

TRUNKS = """
[[trunk]]
name = "main"
kind = "ip"
host = "192.0.2.10"
max_channels = 2
caller_id = "+15550100001"

[[trunk]]
name = "backup"
kind = "ip"
host = "192.0.2.20"
max_channels = 1
"""


def live(tmp_path: Path, text: str = TRUNKS) -> tuple[LiveTrunks, Path]:
    path = tmp_path / "trunks.toml"
    path.write_text(text)
    return LiveTrunks.from_file(path, lambda: load_trunks(path, {}, {}), hold_off=30), path


def rewrite(path: Path, text: str) -> None:
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_a_campaign_uses_its_trunks_in_order_up_to_their_caps(tmp_path: Path) -> None:
    t, _ = live(tmp_path)
    order = t.order("main, backup")
    assert order == ["main", "backup"]
    assert t.free_channels(order, {}, 0) == 3
    assert t.pick(order, {"main": 1}, 0) == "main"
    assert t.pick(order, {"main": 2}, 0) == "backup"
    assert t.pick(order, {"main": 2, "backup": 1}, 0) is None
    assert t.free_channels(order, {"main": 2, "backup": 1}, 0) == 0
    assert t.describe(order, {"main": 2}, 0) == "main: 2/2; backup: 0/1"


def test_unknown_trunks_are_named_and_never_picked(tmp_path: Path) -> None:
    t, _ = live(tmp_path)
    order = t.order("gone,backup")
    assert t.unknown(order) == ["gone"]
    assert t.pick(order, {}, 0) == "backup"
    assert t.free_channels(order, {}, 0) == 1
    assert "gone: not in the trunks file" in t.describe(order, {}, 0)


def test_the_campaigns_caller_id_wins_else_the_trunks(tmp_path: Path) -> None:
    t, _ = live(tmp_path)
    assert t.caller_id("main", "+12125550100") == "+12125550100"
    assert t.caller_id("main", "") == "+15550100001"
    assert t.caller_id("backup", "") == ""


def test_a_failed_trunk_is_skipped_and_stays_failed_across_a_reload(tmp_path: Path) -> None:
    t, path = live(tmp_path)
    order = t.order("main,backup")
    assert not t.fault("main", TrunkFault.CONGESTION, now=100)
    assert not t.fault("main", TrunkFault.CONGESTION, now=100)
    assert t.pick(order, {}, 100) == "main"     # two faults can be two destinations
    assert t.fault("main", TrunkFault.CONGESTION, now=100)
    assert t.pick(order, {}, 101) == "backup"
    assert t.free_channels(order, {}, 101) == 1
    assert "main: congestion, skipped 29 s more" in t.describe(order, {}, 101)
    rewrite(path, TRUNKS.replace("max_channels = 1", "max_channels = 4"))
    assert t.reload_if_changed()
    assert t.free_channels(order, {}, 101) == 4
    assert t.pick(order, {}, 131) == "main"
    assert not t.reload_if_changed()          # unchanged file: nothing to do


def test_a_bad_file_on_reload_is_refused_and_the_trunks_in_use_stay(tmp_path: Path) -> None:
    t, path = live(tmp_path)
    rewrite(path, TRUNKS.replace("max_channels = 2", "max_channels = 0"))
    assert not t.reload_if_changed()
    assert t.last_error is not None and "max_channels" in t.last_error and "main" in t.last_error
    assert t.free_channels(["main"], {}, 0) == 2


def test_a_carried_call_resets_the_count_of_faults_in_a_row(tmp_path: Path) -> None:
    t, _ = live(tmp_path)
    for _ in range(5):
        assert not t.fault("main", TrunkFault.UNREACHABLE, now=0)
        assert not t.fault("main", TrunkFault.UNREACHABLE, now=0)
        t.carried("main")
    assert t.pick(["main"], {}, 0) == "main"
