"""Pure dialer logic: state machines, result classification and list rules.

Nothing here does I/O, imports asyncio/aiohttp/SQLAlchemy/Qt, or reads a clock: time always
comes in as a timezone-aware ``datetime`` argument (``now``).
"""
