"""The softphone's audio: the device interface (`device`) with the headset (`sd_device`) and a
virtual card (`virtual`), the bridge to the SIP stack (`bridge`) with its clock FIFO (`jitter`),
the pre-shift echo check (`check`) and remembered choices (`prefs`). The 16-bit PCM helpers and
audio analysis are `dialer.core.audio`, shared with the dialer (it imports nothing else of it)."""
