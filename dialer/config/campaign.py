"""Campaign definitions in TOML: load, validate, and turn into ``CampaignConfig``.

Every error names the file and the dotted field, and shows the bad value, e.g.
``campaign.toml: dialing.max_attempts must be an integer >= 1, got "abc"``. Unknown keys are
errors too, so a typo never silently falls back to a default. Durations are seconds (a number)
or a string with one unit: ``"90s"``, ``"5m"``, ``"2h"``, ``"1d"``. See
``config/campaigns/demo.toml``.

Compliance settings::

    [schedule]                     # calling hours, in each contact's own time zone(s)
    days = ["mon", "tue", "wed", "thu", "fri"]
    start = "09:00"
    end = "20:00"
    holidays = ["2026-12-25", 2027-01-01]   # no calls on these dates (contact's or ours)

    [dialing]
    abandon_no_repeat = "72h"      # no redial sooner after an abandoned call (then retried)
    amd = true                     # answering-machine detection: machines never reach an agent

    [callbacks]                    # a personal callback whose agent is away when it is due
    personal_fallback = "campaign" # ... goes to any agent ("wait": waits for its agent)
    fallback_after = "15m"         # ... that long after it fell due

    [[disposition]]
    code = "DO_NOT_CALL"
    final = true
    dnc = true                     # or "system": put the dialed number on that DNC list

    [safe_harbor]                  # what a customer hears when answered and no agent is free
    message = "../sounds/demo-safe-harbor.wav"  # relative to this file; WAV 16-bit mono 8 kHz
    seller = "Example Energy"      # for the record: whom the message names
    callback_number = "+1 212 555 0100"   # for the record: the number it gives

    [compliance]                   # the abandon rule the campaign runs under
    profile = "uk_ofcom"           # us_tsr (default), uk_ofcom, ca_crtc or custom
    amd_false_positive_rate = 0.05 # uk_ofcom with amd = true: Ofcom's "reasoned estimate"
    # profile = "custom" takes: cap, window ("rolling" | "calendar_month"), window_length,
    # abandon_after, amd_false_positives, amd_false_positive_rate, message_deadline,
    # min_ring, retention (durations as above)

``dialing.abandon_cap`` may only lower the profile's cap (an internal target of the house).

``[safe_harbor]`` is required for predictive campaigns (they abandon calls by design); the others
play the shipped default message (``dialer/safe_harbor.py``), which names no seller.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from dialer.config import campaign_sections as sections
from dialer.config.campaign_sections import DispositionCode as DispositionCode
from dialer.config.campaign_values import CampaignConfigError as CampaignConfigError
from dialer.config.campaign_values import Validator
from dialer.core.callbacks import CallbackPolicy
from dialer.core.campaign import DialMode
from dialer.core.destinations import Destinations
from dialer.core.jurisdiction import DEFAULT, Jurisdiction
from dialer.core.results import CallResult
from dialer.core.selection import CallingHours, CampaignRules, DispositionRule, RetryRule
from dialer.safe_harbor import SafeHarborMessage

_SECTIONS = {"campaign", "dialing", "schedule", "retry", "disposition", "callbacks", "safe_harbor",
             "compliance", "destinations"}
_CAMPAIGN_KEYS = {"name", "mode", "caller_id", "trunk", "default_region", "time_zone", "agents"}
_DIALING_KEYS = {
    "ratio",
    "ring_timeout",
    "abandon_cap",
    "max_logout_delay",
    "max_attempts",
    "retry_delay",
    "abandon_no_repeat",
    "amd",
}
# Let a number ring at least 15 s (about four rings) before giving up, as US rules require.
MIN_RING_TIMEOUT = timedelta(seconds=15)


def _ratio(v: Any, dial: Mapping[str, Any]) -> float:
    """`dialing.ratio` is kept for old files, at 1 only: progressive dials one call per ready
    agent, reserved for them; more calls per agent is what predictive mode does, under the
    abandon cap (a fixed ratio was parsed and ignored before)."""
    if "ratio" in dial and dial["ratio"] != 1:
        v.fail("dialing.ratio", "is not supported (progressive dials one call per ready agent); "
               'for more calls per agent use mode = "predictive", which keeps abandons under '
               "the cap; remove the line", dial["ratio"])
    return 1.0


@dataclass(frozen=True)
class CampaignConfig:
    """A validated campaign definition."""

    name: str
    mode: DialMode
    caller_id: str          # "" when the campaign sets none (each trunk's own caller ID is used)
    trunk: str              # the campaign's trunks, preferred first, comma-separated
    ratio: float = 1.0
    ring_timeout: timedelta = timedelta(seconds=25)
    abandon_cap: float = 0.03
    max_logout_delay: timedelta = timedelta(seconds=10)
    max_attempts: int = 5
    retry_delay: timedelta = timedelta(hours=1)
    default_region: str = "US"
    time_zone: str = "UTC"
    calling_hours: CallingHours | None = None
    retry: Mapping[CallResult, RetryRule] = field(default_factory=dict)
    dispositions: tuple[DispositionCode, ...] = ()
    agents: tuple[str, ...] = ()
    abandon_no_repeat: timedelta | None = None
    callback_policy: CallbackPolicy = CallbackPolicy()
    amd: bool = False       # answering-machine detection before a call goes to an agent
    safe_harbor: SafeHarborMessage | None = None   # None: the shipped default message
    profile: Jurisdiction = DEFAULT  # the abandon rule ([compliance]); its cap = abandon_cap
    destinations: Destinations = Destinations()   # countries and number types it calls

    def rules(self) -> CampaignRules:
        """The selection/retry rules this definition implies."""
        return CampaignRules(
            max_attempts=self.max_attempts,
            retry=dict(self.retry),
            dispositions={
                d.code: DispositionRule(d.code, d.final, d.retry_delay) for d in self.dispositions
            },
            default_retry_delay=self.retry_delay,
            calling_hours=self.calling_hours,
            abandon_no_repeat=self.abandon_no_repeat,
            callbacks=self.callback_policy,
        )


def load_campaign(path: str | Path) -> CampaignConfig:
    """Read and validate a campaign TOML file (files it names are relative to it)."""
    path = Path(path)
    return loads_campaign(path.read_text(encoding="utf-8"), source=path.name, base=path.parent)


def loads_campaign(
    text: str, source: str = "campaign.toml", base: Path | None = None
) -> CampaignConfig:
    """Validate campaign TOML text; ``source`` prefixes error messages, relative file names are
    read from ``base`` (default: the current directory)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CampaignConfigError(f"{source}: not valid TOML: {exc}") from exc
    return parse_campaign(data, source, base)


def parse_campaign(
    data: Mapping[str, Any], source: str = "campaign", base: Path | None = None
) -> CampaignConfig:
    """Validate an already-parsed definition (same shape as the TOML file)."""
    v = Validator(source)
    v.known(data, _SECTIONS, "")
    camp = v.table(data, "campaign", required=True)
    dial = v.table(data, "dialing")
    v.known(camp, _CAMPAIGN_KEYS, "campaign.")
    v.known(dial, _DIALING_KEYS, "dialing.")
    mode_text = v.string(camp, "campaign.mode", required=True)
    modes = [m.value for m in DialMode]
    if mode_text not in modes:
        v.fail("campaign.mode", f"must be one of {', '.join(modes)}", mode_text)
    time_zone = v.zone(camp, "campaign.time_zone", "UTC")
    amd = v.boolean(dial, "dialing.amd") if "amd" in dial else False
    profile = sections.profile(v, data, dial, amd)
    return CampaignConfig(
        name=v.string(camp, "campaign.name", required=True),
        mode=DialMode(mode_text),
        caller_id=v.e164(camp, "campaign.caller_id") if "caller_id" in camp else "",
        trunk=",".join(v.trunks(camp, "campaign.trunk")),
        ratio=_ratio(v, dial),
        ring_timeout=v.duration(
            dial, "dialing.ring_timeout", timedelta(seconds=25),
            minimum=max(MIN_RING_TIMEOUT, profile.min_ring)
        ),
        abandon_cap=profile.cap,
        max_logout_delay=v.duration(
            dial, "dialing.max_logout_delay", timedelta(seconds=10), minimum=timedelta(seconds=1)
        ),
        max_attempts=v.integer(dial, "dialing.max_attempts", 5, minimum=1),
        retry_delay=v.duration(dial, "dialing.retry_delay", timedelta(hours=1)),
        default_region=v.region(camp, "campaign.default_region", "US"),
        time_zone=time_zone,
        calling_hours=sections.schedule(v, data, time_zone),
        retry=sections.retry_rules(v, data),
        dispositions=sections.dispositions(v, data),
        agents=tuple(v.strings(camp, "campaign.agents")),
        abandon_no_repeat=(
            v.duration(dial, "dialing.abandon_no_repeat", timedelta(0))
            if "abandon_no_repeat" in dial
            else None
        ),
        callback_policy=sections.callback_policy(v, data),
        amd=amd,
        safe_harbor=sections.safe_harbor(v, data, DialMode(mode_text), base or Path.cwd()),
        profile=profile,
        destinations=sections.destinations(v, data),
    )


