"""A campaign's destinations (issue 14): premium-rate and other costly numbers, and countries the
campaign does not call, are rejected at import with their line, so nothing of the list is
stored; the policy is the campaign's own ([destinations]) and is kept with it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from dialer.cli import build_parser
from dialer.cli import compliance as compliance_cli
from dialer.config.campaign import CampaignConfigError, loads_campaign
from dialer.config.settings import Settings
from dialer.core.destinations import Destinations
from dialer.db.campaigns import count_contacts, create_campaign, get_campaign
from dialer.db.database import open_database
from dialer.lists import parse_list

BASE = """
[campaign]
name = "spring"
mode = "progressive"
caller_id = "+12125550100"
trunk = "carrier"

[[disposition]]
code = "SALE"
label = "Sale"
final = true
"""
LIST = ("name,phone\n"
        "Ada,+12125550101\n"
        "Premium,+19002345678\n"
        "Madrid,+34612345678\n"
        "Free,+18005550100\n")


def _errors(destinations: Destinations | None = None) -> list[str]:
    return [str(e) for e in parse_list(LIST.encode(), "US", destinations=destinations).errors]


def test_premium_rate_numbers_are_refused_by_default_with_their_line() -> None:
    errors = _errors()
    assert len(errors) == 1
    assert errors[0].startswith("line 3: phone: +19002345678 is a premium-rate number, which "
                                "this campaign does not call (destinations.types:")


def test_a_campaign_may_limit_its_countries_and_widen_its_types() -> None:
    us_only = Destinations(countries=frozenset({"US", "CA"}))
    errors = _errors(us_only)
    assert any(e.startswith("line 4: phone: +34612345678 is in ES, which this campaign does "
                            "not call (destinations.countries: CA, US)") for e in errors)
    premium = Destinations(types=frozenset({"fixed_line_or_mobile", "mobile", "toll_free",
                                            "premium_rate"}))
    assert _errors(premium) == []


def test_the_campaign_file_names_a_bad_destination_setting() -> None:
    cfg = loads_campaign(BASE + '[destinations]\ncountries = ["us", "GB"]\n'
                         'types = ["mobile", "premium_rate"]\n')
    assert cfg.destinations == Destinations(frozenset({"US", "GB"}),
                                            frozenset({"mobile", "premium_rate"}))
    assert loads_campaign(BASE).destinations == Destinations()
    for bad, where in [('countries = ["Spain"]', "destinations.countries"),
                       ("countries = []", "destinations.countries"),
                       ('types = ["premium"]', "destinations.types"),
                       ('types = "mobile"', "destinations.types"),
                       ('allow = ["x"]', "destinations.allow")]:
        with pytest.raises(CampaignConfigError, match=where.replace(".", r"\.")):
            loads_campaign(BASE + f"[destinations]\n{bad}\n")


def test_list_import_applies_the_stored_policy_and_stores_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = open_database(tmp_path / "d.sqlite3")
    cid = create_campaign(db, loads_campaign(BASE + '[destinations]\ncountries = ["US"]\n'))
    assert get_campaign(db, cid).destinations.countries == frozenset({"US"})
    listing = tmp_path / "list.csv"
    listing.write_text(LIST)
    settings = cast(Settings, SimpleNamespace(service=SimpleNamespace(database=db.url)))
    args = build_parser().parse_args(["list", "import", "spring", str(listing)])
    assert compliance_cli.run(settings, args) == 1
    err = capsys.readouterr().err
    assert "2 rejected row(s) of 4; nothing imported" in err
    assert "line 3: phone: +19002345678 is a premium-rate number" in err
    assert "line 4: phone: +34612345678 is in ES" in err
    assert count_contacts(db, cid) == 0
