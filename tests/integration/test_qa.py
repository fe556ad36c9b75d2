"""Each test extension of the PBX passes its QA call: `dialer qa call` (run as its own process,
as a QA engineer would) registers agent seat 1017 with a real SIP user agent, calls every test
extension in turn and reports what it heard; each report must pass and say the right things."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from dialer.config.settings import Settings
from dialer.pbx import Backend
from dialer.pbx.render import render_all
from dialer.qa.calls import EXTENSIONS, RECORDING_SECONDS, TONE_HZ

pytestmark = [pytest.mark.pbx, pytest.mark.both_backends]

SEAT = 1017   # the QA tests' agent seat (seats 1016-1020 are kept for these tests)


@pytest.fixture(scope="module")
def reports(pbx: Backend, settings: Settings) -> dict[str, dict[str, Any]]:
    if "9199" not in pbx.rx("pbx", "dialplan show agents"):
        # a PBX started before the test extensions existed: give it the current dialplan
        render_all(settings)
        pbx.rx("pbx", "dialplan reload")
    res = subprocess.run([sys.executable, "-m", "dialer.cli.trunk", "qa", "call", *EXTENSIONS,
                          "--agent", str(SEAT), "--ring-for", "1.5", "--json"],
                         capture_output=True, text=True, timeout=120)
    lines = [json.loads(ln) for ln in res.stdout.splitlines() if ln.startswith("{")]
    assert len(lines) == len(EXTENSIONS), res.stdout + res.stderr
    assert res.returncode == (0 if all(r["passed"] for r in lines) else 1)
    return {r["extension"]: r for r in lines}


@pytest.mark.parametrize("extension", list(EXTENSIONS), ids=[e.name for e in EXTENSIONS.values()])
def test_each_test_extension_passes_its_qa_call(reports: dict[str, dict[str, Any]],
                                                extension: str) -> None:
    r = reports[extension]
    assert r["passed"], r["findings"]
    assert r["agent"] == f"agent{SEAT}" and r["registered"]
    check = EXTENSIONS[extension].check.value
    if check == "echo":
        assert r["echo_delay_ms"] is not None and r["echo_delay_ms"] < 200
    elif check == "tone":
        assert abs(r["heard_hz"] - TONE_HZ) < 10 and r["heard_dbfs"] > -20
    elif check == "recording":
        assert abs(r["sound_s"] - RECORDING_SECONDS) < 0.4 and r["hung_up_by"] == "the PBX"
    elif check == "dtmf":
        assert r["dtmf_sent"] == "2580#" and r["dtmf_back"] == "2580"
    elif check == "ringing":
        assert r["ringing_ms"] is not None and not r["answered"] and r["code"] == 487
    elif check == "busy":
        assert r["code"] == 486 and not r["answered"]


def test_a_plain_words_report_and_a_failing_call(pbx: Backend, settings: Settings,
                                                 reports: dict[str, dict[str, Any]]) -> None:
    # 9000 is no extension: the phone's call is refused, and the QA call fails
    res = subprocess.run([sys.executable, "-m", "dialer.cli.trunk", "qa", "call", "9197", "9000",
                          "--agent", str(SEAT), "--talk", "1"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 1, res.stdout + res.stderr
    assert f"9197 (milliwatt) from agent{SEAT}: PASS" in res.stdout
    assert "ok: heard a 1004 Hz tone" in res.stdout
    assert f"9000 (other) from agent{SEAT}: FAIL" in res.stdout
    assert "not answered: 404" in res.stdout
