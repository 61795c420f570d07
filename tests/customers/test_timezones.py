"""The customer's time zone from the address, offline: country, region, and (US) ZIP code."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from integration.customers.timezones import zone_for_address


@pytest.mark.parametrize(
    ("state", "zone"),
    [
        ("NY", "America/New_York"),
        ("CA", "America/Los_Angeles"),
        ("IL", "America/Chicago"),
        ("CO", "America/Denver"),
        ("AZ", "America/Phoenix"),  # Mountain Standard Time all year, not America/Denver
        ("HI", "Pacific/Honolulu"),
        ("AK", "America/Anchorage"),
    ],
)
def test_us_states_across_zones(state: str, zone: str) -> None:
    assert zone_for_address("US", region_code=state) == zone


@pytest.mark.parametrize(
    ("province", "zone"),
    [
        ("ON", "America/Toronto"),
        ("Ontario", "America/Toronto"),
        ("BC", "America/Vancouver"),
        ("British Columbia", "America/Vancouver"),
        ("Québec", "America/Toronto"),
        ("Quebec", "America/Toronto"),
        ("SK", "America/Regina"),  # no daylight saving time
        ("NL", "America/St_Johns"),  # UTC-3:30
    ],
)
def test_canadian_provinces(province: str, zone: str) -> None:
    assert zone_for_address("CA", region=province) == zone


@pytest.mark.parametrize(
    ("state", "zone"),
    [
        ("NSW", "Australia/Sydney"),
        ("New South Wales", "Australia/Sydney"),
        ("WA", "Australia/Perth"),
        ("Western Australia", "Australia/Perth"),
        ("QLD", "Australia/Brisbane"),  # no daylight saving time, unlike its southern neighbours
        ("Queensland", "Australia/Brisbane"),
        ("SA", "Australia/Adelaide"),
    ],
)
def test_australian_states(state: str, zone: str) -> None:
    assert zone_for_address("AU", region=state) == zone


@pytest.mark.parametrize(
    ("country", "zone"),
    [("FR", "Europe/Paris"), ("DE", "Europe/Berlin"), ("IE", "Europe/Dublin"), ("GB", "Europe/London")],
)
def test_single_zone_european_countries_need_no_region(country: str, zone: str) -> None:
    assert zone_for_address(country) == zone
    # ... and a region the data does not know does not spoil the answer.
    assert zone_for_address(country, region="Nowhere In Particular", postal_code="12345") == zone


def test_germany_counts_as_one_zone_although_tzdata_lists_busingen_separately() -> None:
    # zone.tab has Europe/Busingen for the exclave; its clock has matched Berlin's since 1980.
    assert zone_for_address("DE", region="Bayern") == "Europe/Berlin"
    assert zone_for_address("DE", region_code="DE-BY") == "Europe/Berlin"


@pytest.mark.parametrize(
    ("region", "region_code"),
    [
        ("California", None),
        (None, "CA"),
        (None, "US-CA"),
        (None, "us-ca"),
        ("california", None),
        ("  CALIFORNIA ", None),
        (None, " ca "),
        ("CA", None),  # a code in the name field
        (None, "California"),  # a name in the code field
    ],
)
def test_region_names_and_codes_in_common_forms(region: str | None, region_code: str | None) -> None:
    assert zone_for_address("US", region=region, region_code=region_code) == "America/Los_Angeles"


def test_country_code_is_case_insensitive_and_may_be_alpha3() -> None:
    assert zone_for_address("us", region="ny") == "America/New_York"
    assert zone_for_address(" USA ", region_code="ny") == "America/New_York"
    assert zone_for_address("deu") == "Europe/Berlin"


def test_region_code_wins_over_a_conflicting_region_name() -> None:
    assert zone_for_address("US", region="California", region_code="NY") == "America/New_York"


def test_unknown_region_code_falls_back_to_the_region_name() -> None:
    assert zone_for_address("US", region="California", region_code="ZZ") == "America/Los_Angeles"


@pytest.mark.parametrize(
    ("state", "zone"),
    [
        # States split between zones get the zone of most of their people when no ZIP code says otherwise.
        ("TX", "America/Chicago"),
        ("FL", "America/New_York"),
        ("IN", "America/Indiana/Indianapolis"),
        ("OR", "America/Los_Angeles"),
    ],
)
def test_split_states_without_a_zip_code_get_the_majority_zone(state: str, zone: str) -> None:
    assert zone_for_address("US", region_code=state) == zone


@pytest.mark.parametrize(
    ("state", "postal_code", "zone"),
    [
        ("TX", "79901", "America/Denver"),  # El Paso
        ("TX", "79901-1234", "America/Denver"),  # ZIP+4
        ("FL", "32501", "America/Chicago"),  # Pensacola, in the panhandle
        ("IN", "47708", "America/Chicago"),  # Evansville
        ("OR", "97914", "America/Boise"),  # Ontario, Malheur County
        ("ID", "83814", "America/Los_Angeles"),  # Coeur d'Alene, northern Idaho
        ("TN", "37902", "America/New_York"),  # Knoxville
        ("AK", "99801", "America/Juneau"),
    ],
)
def test_us_zip_code_settles_split_states(state: str, postal_code: str, zone: str) -> None:
    assert zone_for_address("US", region_code=state, postal_code=postal_code) == zone


def test_us_zip_code_alone_is_enough() -> None:
    assert zone_for_address("US", postal_code="10001") == "America/New_York"
    assert zone_for_address("US", postal_code="79901") == "America/Denver"


def test_a_zip_code_contradicting_the_state_is_ignored() -> None:
    # 90210 is Beverly Hills; we trust the state picked from a list over five typed digits.
    assert zone_for_address("US", region_code="NY", postal_code="90210") == "America/New_York"


def test_a_malformed_or_unknown_zip_code_falls_back_to_the_state() -> None:
    assert zone_for_address("US", region_code="TX", postal_code="K1A 0B1") == "America/Chicago"
    assert zone_for_address("US", region_code="TX", postal_code="00000") == "America/Chicago"
    assert zone_for_address("US", postal_code="not a zip") is None


def test_postal_codes_outside_the_us_are_not_read_as_zip_codes() -> None:
    assert zone_for_address("CA", postal_code="79901") is None


@pytest.mark.parametrize(
    ("country", "region", "zone"),
    [
        # Territories that ISO 3166-2 lists as subdivisions but that have their own ISO 3166-1 code and zone.
        ("US", "Puerto Rico", "America/Puerto_Rico"),
        ("US", "GU", "Pacific/Guam"),
        ("FR", "Guadeloupe", "America/Guadeloupe"),
        ("FR", "971", "America/Guadeloupe"),
        ("FR", "La Réunion", "Indian/Reunion"),
        ("PR", None, "America/Puerto_Rico"),
    ],
)
def test_overseas_territories_get_their_own_zone(country: str, region: str | None, zone: str) -> None:
    assert zone_for_address(country, region=region) == zone


def test_spain_needs_a_region_because_the_canaries_are_an_hour_behind() -> None:
    assert zone_for_address("ES") is None
    assert zone_for_address("ES", region="Canary Islands") == "Atlantic/Canary"
    assert zone_for_address("ES", region="Madrid") == "Europe/Madrid"


@pytest.mark.parametrize("country", ["US", "CA", "AU", "RU", "BR", "MX"])
@pytest.mark.parametrize("region", [None, "", "   ", "Narnia"])
def test_multi_zone_country_without_a_usable_region_is_unknown(country: str, region: str | None) -> None:
    assert zone_for_address(country, region=region, region_code=region) is None


def test_a_subdivision_without_a_zone_is_unknown() -> None:
    # "AE" (Armed Forces Europe) is a US postal region with no single place, hence no zone.
    assert zone_for_address("US", region_code="AE") is None


@pytest.mark.parametrize("country", ["ZZ", "XX", "United States", "U", "", "   ", None])
def test_unknown_or_missing_country_is_unknown(country: str | None) -> None:
    assert zone_for_address(country, region="California", region_code="CA", postal_code="90210") is None


def test_empty_inputs_are_unknown() -> None:
    assert zone_for_address(None) is None
    assert zone_for_address(None, None, None, None) is None
    assert zone_for_address("", "", "", "") is None


@pytest.mark.parametrize(
    ("country", "region", "postal_code"),
    [("US", "NY", None), ("CA", "ON", None), ("AU", "NSW", None), ("FR", None, None), ("US", None, "79901")],
)
def test_answers_are_zones_this_tz_database_knows(country: str, region: str | None, postal_code: str | None) -> None:
    zone = zone_for_address(country, region=region, postal_code=postal_code)
    assert zone is not None
    assert ZoneInfo(zone).key == zone
