"""Fax detection on customers' calls: Asterisk's TONE_DETECT() armed over ARI, reported as an event.

A called fax machine answers like anyone else (200 OK), then, after about 2 s of silence, sends
its answer tone CED: 2100 Hz for 2.6-4 s (ITU-T T.30), then its V.21 capabilities. Asterisk 22's
``res_tonedetect`` (loaded by ``config/asterisk/modules.conf``) puts a tone detector on a channel
when the dialplan function ``TONE_DETECT(freq,duration_ms,options)`` is *written*; ARI can write it
like any channel variable, and each time the tone is heard for ``duration_ms`` Asterisk sends the
channel's Stasis application a ``ChannelToneDetected`` event. The channel stays where it is (in
Stasis, in the agent's bridge, or in the ``[dialer-amd]`` dialplan with a subscription): nothing
waits for the detector, so people are bridged as fast as without it.

Two ways to arm it, both checked on the real PBX (``tests/integration/test_fax_detect.py``):

* at origination, at no cost on the answer path: ``fax_detect_variables()`` merged into the JSON
  body of ``POST /channels`` (``{"variables": {"TONE_DETECT(2100,500,r)": ""}}``);
* on a live channel: ``await arm_fax_detection(ari, channel_id)``, one
  ``POST /channels/{id}/variable?variable=TONE_DETECT(2100,500,r)&value=`` (also while bridged).

ARI answers these writes 204 even when they fail (an unknown function, bad arguments: the error
is only in Asterisk's log), so ``fax_detection_available(ari)`` checks the module once per
connection, and ``fax_tone_count(ari, channel_id)`` reads a channel's detector back.

``r``: only what the customer sends counts (the agent's side never triggers it). One detector per
channel: writing TONE_DETECT again replaces it, and ``disarm_fax_detection`` removes it
(``TONE_DETECT(0,,x)``). The event carries only the channel: on a customer's channel armed here,
``fax_detected(event)`` is the verdict. The detector keeps listening for the whole call; a caller
that wants a window (a fax sends CED within seconds of answering) disarms it, or ignores events
after ``FAX_WINDOW_S`` from the answer.

Not used, and why: ``FAXOPT(faxdetect)`` / PJSIP ``faxdetect`` (res_fax) detect CNG, the *calling*
fax's tone, and T.38 re-INVITEs, and jump the channel to a ``fax`` extension, out of Stasis; a
called fax does not send CNG. ``ToneScan(,,,f)`` detects CED but is a blocking dialplan
application, so the customer would wait in dialplan before the bridge.
"""

from __future__ import annotations

import logging
from typing import Any, Final, Protocol

from dialer.ari import AriError

log = logging.getLogger(__name__)

FAX_TONE_HZ: Final = 2100          # CED, the called fax's answer tone (also a modem's ANS)
FAX_TONE_MIN_MS: Final = 500       # the tone must last this long (Asterisk's default)
FAX_WINDOW_S: Final = 10.0         # CED starts 1.8-2.5 s after the answer and lasts 2.6-4 s
FAX_DETECT_VARIABLE: Final = f"TONE_DETECT({FAX_TONE_HZ},{FAX_TONE_MIN_MS},r)"
FAX_DISARM_VARIABLE: Final = "TONE_DETECT(0,,x)"
TONE_EVENT: Final = "ChannelToneDetected"
TONE_MODULE: Final = "res_tonedetect.so"


class AriClientLike(Protocol):
    """The part of ``dialer.ari.AriClient`` this module uses."""

    async def get(self, path: str, **params: str | int | bool) -> Any: ...

    async def post(self, path: str, body: Any = None, **params: str | int | bool) -> Any: ...


def fax_detect_variables() -> dict[str, str]:
    """Channel variables that arm fax detection when given to ``POST /channels`` (originate) in
    the JSON body's ``variables``: the detector is on the channel before it answers."""
    return {FAX_DETECT_VARIABLE: ""}


async def fax_detection_available(ari: AriClientLike) -> bool:
    """Whether the PBX can detect faxes (``res_tonedetect`` loaded and running). Ask once per
    ARI (re)connection: arming is a channel-variable write that ARI answers 204 even when the
    function does not exist (the error only reaches Asterisk's log), so a missing module would
    otherwise go unnoticed. Logs an error that names the module when it is missing."""
    try:
        module = await ari.get(f"asterisk/modules/{TONE_MODULE}")
    except AriError as exc:
        log.error("fax detection unavailable: Asterisk module %s is not running (%s); faxes "
                  "will reach agents", TONE_MODULE, exc)
        return False
    if module.get("status") != "Running":
        log.error("fax detection unavailable: Asterisk module %s is %s; faxes will reach "
                  "agents", TONE_MODULE, module.get("status"))
        return False
    return True


async def arm_fax_detection(ari: AriClientLike, channel_id: str) -> None:
    """Arm fax detection on a live channel (answered, in Stasis or bridged): one ARI request,
    answered in under a millisecond. Raises ``AriError`` (404) if the channel is gone."""
    await ari.post(f"channels/{channel_id}/variable", variable=FAX_DETECT_VARIABLE, value="")


async def disarm_fax_detection(ari: AriClientLike, channel_id: str) -> None:
    """Remove the detector (end of the fax window). Removing one that is not there only logs a
    warning in Asterisk; raises ``AriError`` (404) if the channel is gone."""
    await ari.post(f"channels/{channel_id}/variable", variable=FAX_DISARM_VARIABLE, value="")


async def fax_tone_count(ari: AriClientLike, channel_id: str) -> int | None:
    """How many times the armed detector heard the tone; None when no detector is armed."""
    try:
        reply = await ari.get(f"channels/{channel_id}/variable", variable="TONE_DETECT(rx)")
    except AriError as exc:
        if exc.status == 500:          # "Unable to read provided function": nothing armed
            return None
        raise
    return int(reply["value"])


def fax_detected(event: dict[str, Any]) -> bool:
    """Whether this ARI event reports the fax tone on the channel it names (``event["channel"]``).

    Only meaningful on channels armed by this module: TONE_DETECT allows one detector per channel
    and its event does not say which tone it heard."""
    return event.get("type") == TONE_EVENT and bool(event.get("channel", {}).get("id"))
