"""Pure dialer logic: state machines, result classification and list rules, and the 16-bit PCM
audio helpers and analysis (`audio`) that the softphone shares.

Nothing here does I/O (but for the WAV files `audio.read_wav`/`write_wav` are given), imports
asyncio/aiohttp/SQLAlchemy/Qt, or reads a clock: time always comes in as a timezone-aware
``datetime`` argument (``now``). Importing this package loads nothing else of the dialer, so the
softphone may import `dialer.core.audio` alone.
"""
