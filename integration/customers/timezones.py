"""A customer's IANA time zone, derived offline from the address: country, region, and (US) postal code.

Nothing here is a hand-written table; the data comes from three maintained packages, all shipped inside the wheel:

* ``countrystatecity-countries`` (the dr5hn *countries-states-cities* database, ODbL-1.0): every ISO 3166-2
  subdivision with its code, English and native name and one IANA zone, the subdivision's majority zone.
* ``zipcodes`` (MIT, refreshed monthly from USPS/GeoNames): an IANA zone per US ZIP code, which settles the
  states split between zones (Indiana, Kentucky, Tennessee, the Florida panhandle, El Paso, Malheur County,
  northern Idaho, the Dakotas, Nebraska, Kansas, Michigan's Upper Peninsula, Alaska's panhandle).
* ``tzdata`` (IANA's own database): ``zone.tab`` lists the zones of each country, most populous first, which
  answers single-zone countries and tells us when a country spans several clocks.

``None`` means the zone cannot be known (unknown country, or a multi-zone country without a usable region or
postal code); the caller then falls back to the shop's zone and marks the profile as such.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources import files
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import countrystatecity_countries as csc
import zipcodes

__all__ = ["zone_for_address"]

# ZIP or ZIP+4; anything else (a Canadian or British postcode typed into a US address) is not looked up.
_US_ZIP_RE = re.compile(r"(\d{5})(?:-?\d{4})?")
_NOT_ALNUM_RE = re.compile(r"[^0-9a-z]+")
# ISO 3166-2 categories for territories that ISO 3166-1 also lists as countries of their own (Puerto Rico,
# Guam, Guadeloupe, Réunion...). The subdivision data gives some of them the mother country's capital zone
# (US-PR -> America/New_York, FR-971 -> Europe/Paris), so for these we resolve the territory as a country.
_TERRITORY_TYPE_WORDS = ("outlying", "overseas")


@dataclass(frozen=True)
class _Subdivision:
    code: str  # the subdivision part of the ISO 3166-2 code, e.g. "CA" for US-CA
    zone: str | None


def _normalise_name(value: str) -> str:
    """'Québec', 'QUEBEC' and ' quebec ' compare equal; so do 'Baden-Württemberg' and 'baden wurttemberg'."""
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NOT_ALNUM_RE.sub(" ", stripped.casefold()).strip()


def _valid_zone(name: str | None) -> str | None:
    """The zone name if this tz database knows it (the data sets are built against their own tzdata release)."""
    if not name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


@functools.cache
def _iana_country_zones() -> dict[str, tuple[str, ...]]:
    """Country code -> its zones as IANA's zone.tab lists them (the most populous zone first, where it can be)."""
    zones: dict[str, list[str]] = {}
    text = files("tzdata.zoneinfo").joinpath("zone.tab").read_text(encoding="utf-8")
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        country, _coordinates, zone, *_comment = line.split("\t")
        zones.setdefault(country, []).append(zone)
    return {country: tuple(names) for country, names in zones.items()}


@functools.cache
def _country_codes() -> dict[str, str]:
    """Alpha-2 and alpha-3 codes (upper case) -> alpha-2, so 'US', 'us' and 'USA' all work."""
    codes: dict[str, str] = {code: code for code in _iana_country_zones()}
    for country in csc.get_countries():
        codes[country.iso2.upper()] = country.iso2.upper()
        codes[country.iso3.upper()] = country.iso2.upper()
    return codes


@functools.cache
def _countries_by_name() -> dict[str, str]:
    """Normalised English and native country names -> alpha-2 (used only for the territories above)."""
    names: dict[str, str] = {}
    for country in csc.get_countries():
        for name in (country.name, country.native):
            if name:
                names.setdefault(_normalise_name(name), country.iso2.upper())
    return names


def _same_clock(first: str, second: str) -> bool:
    """Whether two zones show the same local time now: hourly over this year and the next.

    zone.tab lists Europe/Busingen beside Europe/Berlin because their clocks differed in the 1940s; a German customer
    is still unambiguous, so "spans several zones" means several clocks today, not several zone names.
    """
    if first == second:
        return True
    a, b = ZoneInfo(first), ZoneInfo(second)
    start = dt.datetime(dt.datetime.now(dt.UTC).year, 1, 1, tzinfo=dt.UTC)
    hour = dt.timedelta(hours=1)
    return all(
        (start + n * hour).astimezone(a).utcoffset() == (start + n * hour).astimezone(b).utcoffset()
        for n in range(2 * 366 * 24)
    )


@functools.cache
def _country_zone(country: str) -> str | None:
    """The country's zone when all its zones keep the same clock, else None (a region or postal code is needed)."""
    zones = [zone for zone in _iana_country_zones().get(country, ()) if _valid_zone(zone)]
    if not zones:
        # Kosovo (XK) is a user-assigned code that zone.tab leaves out; the country data set has its zone.
        found = csc.get_country_by_code(country)
        zones = [z for z in (_valid_zone(t.get("zoneName")) for t in found.timezones) if z] if found else []
    if zones and all(_same_clock(zones[0], other) for other in zones[1:]):
        return zones[0]
    return None


def _subdivision_zone(country: str, kind: str | None, names: Iterable[str | None], zone: str | None) -> str | None:
    if kind and any(word in kind.casefold() for word in _TERRITORY_TYPE_WORDS):
        for name in names:
            territory = _countries_by_name().get(_normalise_name(name)) if name else None
            if territory and territory != country:
                return _country_zone(territory) or _valid_zone(zone)
    return _valid_zone(zone)


@functools.cache
def _subdivisions(country: str) -> tuple[dict[str, _Subdivision], dict[str, _Subdivision | None]]:
    """The country's subdivisions by code (upper case) and by normalised name.

    A name shared by subdivisions in different zones maps to None (ambiguous) rather than to whichever came first.
    """
    by_code: dict[str, _Subdivision] = {}
    alternative_codes: dict[str, _Subdivision] = {}
    by_name: dict[str, _Subdivision | None] = {}
    for state in csc.get_states_of_country(country):
        iso_suffix = (state.iso3166_2 or "").upper().partition("-")[2]
        code = iso_suffix or state.state_code.upper()
        names = (state.name, state.native)
        subdivision = _Subdivision(code, _subdivision_zone(country, state.type, names, state.timezone))
        by_code.setdefault(state.state_code.upper(), subdivision)
        if iso_suffix:
            alternative_codes.setdefault(iso_suffix, subdivision)
        for name in names:
            if not name:
                continue
            key = _normalise_name(name)
            if key in by_name and (known := by_name[key]) is not None and known.zone != subdivision.zone:
                by_name[key] = None
            else:
                by_name.setdefault(key, subdivision)
    # The data's own state code wins over the ISO suffix where they differ (BQ: "BQ1" vs "BQ-BO").
    return {**alternative_codes, **by_code}, by_name


def _find_subdivision(country: str, *values: str | None) -> _Subdivision | None:
    by_code, by_name = _subdivisions(country)
    for value in values:
        if not value or not value.strip():
            continue
        code = value.strip().upper()
        if code.startswith(f"{country}-"):  # "US-CA": an ISO 3166-2 code with its country prefix
            code = code[len(country) + 1 :]
        found = by_code.get(code) or by_name.get(_normalise_name(value))
        if found is not None:
            return found
    return None


def _us_zip_zone(postal_code: str | None) -> tuple[str, str] | None:
    """(state, zone) for a US ZIP code, or None when it is not a known ZIP."""
    match = _US_ZIP_RE.fullmatch(postal_code.strip()) if postal_code else None
    if match is None:
        return None
    try:
        # The typed signature lives in the private zipcodes._zipcodes stub; the public wrapper is unannotated.
        found = zipcodes.matching(match.group(1))  # type: ignore[no-untyped-call]
    except ValueError:  # the library's own format check; the regex above should already have caught it
        return None
    for row in found:
        zone = _valid_zone(row.get("timezone"))
        if zone and row.get("state"):
            return str(row["state"]).upper(), zone
    return None


@functools.lru_cache(maxsize=4096)  # called per customer event; addresses repeat and the answer never changes
def zone_for_address(
    country_code: str | None,
    region: str | None = None,
    region_code: str | None = None,
    postal_code: str | None = None,
) -> str | None:
    """The IANA zone of an address, or None when it cannot be known offline.

    Order of evidence, most specific first:

    1. US ZIP code (``zipcodes``), unless it contradicts the given state, in which case we trust the state:
       a typo in five digits is likelier than one in a state picked from a list.
    2. The region, as a code ("CA", "US-CA", "ca") or a name ("California", "Québec", "New South Wales").
       Without a postal code, a state split between zones gets the zone of most of its people, which is what
       the subdivision data records (Indiana -> America/Indiana/Indianapolis, Texas -> America/Chicago, Florida
       -> America/New_York, Kentucky -> America/Kentucky/Louisville, Ontario -> America/Toronto,
       New South Wales -> Australia/Sydney).
    3. The country alone, when all its zones keep the same clock today (France, Germany, Ireland, ...).
    """
    country = _country_codes().get((country_code or "").strip().upper())
    if country is None:
        return None
    subdivision = _find_subdivision(country, region_code, region)
    if country == "US":
        by_zip = _us_zip_zone(postal_code)
        if by_zip is not None and (subdivision is None or subdivision.code == by_zip[0]):
            return by_zip[1]
    if subdivision is not None and subdivision.zone is not None:
        return subdivision.zone
    return _country_zone(country)


def warm(_runtime: object = None) -> None:
    """Fill the caches above once, in a worker before its first job (``integration.core.worker``): a cold
    first lookup costs ~0.5 s (the ZIP data), and each new country its subdivisions (0.3 s for all).

    The clock comparison of a country with several zones (``_country_zone``: ~50 ms each, 1.5 s for all)
    is left to the first address that needs it: only an address whose region is unknown gets there."""
    _country_codes()
    _countries_by_name()
    _us_zip_zone("10001")
    for country in _iana_country_zones():
        _subdivisions(country)
