"""The softphone's audio: 16-bit PCM helpers (`pcm`), the device interface (`device`) with the
headset (`sd_device`) and a virtual card (`virtual`), the bridge to the SIP stack (`bridge`)
with its clock FIFO (`jitter`), the pre-shift echo check (`check`) and remembered choices
(`prefs`)."""
