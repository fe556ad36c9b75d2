"""Configuration parsers: service settings, campaign definitions, SIP trunks."""
