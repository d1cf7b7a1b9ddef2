"""Typed, cached access to the shipped reference tables in ``courtarchive/data``.

Everything is read with :mod:`importlib.resources` from this package, so an installed wheel
needs nothing outside itself.  Every loader returns fresh ``dict`` rows (the parsed tables are
cached once per process; callers may mutate what they get back without affecting other callers).

Tables (see ``PROVENANCE.md`` for sources and caveats)
    towns()          towns.csv: town, lat, lon (float), county, police_force_area, country,
                     population_band (int 1-5: <20k, 20-50k, 50-100k, 100-250k, >250k)
    offences()       offences.csv: the declared offence table; the flag columns are bools,
                     seriousness is an int 1-10
    police_forces()  police_force_areas.csv: the 43 territorial forces of England and Wales
    courts()         courts.csv: lat/lon float or None, fact_court_id and the court codes int
                     or None, in_person/service_centre bool (in_person None where FaCT has none)

Town names are not unique (two Newports: Gwent and the Isle of Wight); use ``find_towns`` with a
police force area to pick one.  ``find_towns`` also matches the spelling variants found in
courts.csv ("Newcastle upon Tyne" / "Newcastle-upon-Tyne", "St Helens" / "St. Helens",
"Hull" / "Kingston-upon-Hull") and the two court-town quirks in ``COURT_TOWN_ALIASES``.
"""

from __future__ import annotations

import csv
import io
import re
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = [
    "COURT_TOWN_ALIASES", "OFFENCE_BOOL_COLUMNS", "OFFENCE_COLUMNS", "OFFENCE_GROUPS",
    "POPULATION_BANDS", "TEMPLATE_PLACEHOLDERS", "TOWN_COLUMNS", "court_by_id", "courts", "find_towns",
    "normalise_town", "offence_by_code", "offences", "place_names", "place_pattern", "police_forces",
    "similar_courts", "towns",
]

_PACKAGE = "courtarchive.data"

TOWN_COLUMNS = ("town", "lat", "lon", "county", "police_force_area", "country", "population_band")
OFFENCE_COLUMNS = ("code", "title", "legislation", "act", "section", "offence_group",
                   "child_sexual_abuse", "so_aa_1992", "fgm", "msa_s2", "youth_court_only",
                   "seriousness", "sch18", "wording_template", "relationship_sensitive")
OFFENCE_BOOL_COLUMNS = ("child_sexual_abuse", "so_aa_1992", "fgm", "msa_s2", "youth_court_only",
                        "sch18", "relationship_sensitive")
OFFENCE_GROUPS = frozenset({
    "sexual", "violence", "theft", "fraud", "drugs", "criminal_damage", "public_order", "weapons",
    "motoring", "harassment", "homicide", "robbery", "modern_slavery", "fgm", "other",
    "sjp_regulatory"})
TEMPLATE_PLACEHOLDERS = frozenset({"date", "place", "complainant", "property", "value", "vehicle", "drug"})
POPULATION_BANDS = {1: "<20k", 2: "20k-50k", 3: "50k-100k", 4: "100k-250k", 5: ">250k"}

# courts.csv `town` values that are not the town's name (normalised form -> gazetteer name)
COURT_TOWN_ALIASES = {
    "south yorkshire": "Barnsley",            # Barnsley Law Courts carries the county as its town
    "central milton keynes": "Milton Keynes",
    "hull": "Kingston-upon-Hull",
}

_COURT_INT = ("fact_court_id", "crown_court_code", "magistrate_code", "cci_code")
_COURT_BOOL = ("in_person", "service_centre")


def _read(name: str) -> list[dict[str, str]]:
    text = resources.files(_PACKAGE).joinpath(name).read_text("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _bool(value: str | None, *, where: str, optional: bool = False) -> bool | None:
    v = (value or "").strip().lower()
    if v == "true":
        return True
    if v == "false":
        return False
    if optional and v == "":
        return None
    raise ValueError(f"{where}: expected true/false, got {value!r}")


def _opt_float(value: str | None) -> float | None:
    v = (value or "").strip()
    return float(v) if v else None


def _opt_int(value: str | None) -> int | None:
    v = (value or "").strip()
    return int(v) if v.isdigit() else None


def _opt_str(value: str | None) -> str | None:
    v = (value or "").strip()
    return v or None


@lru_cache(maxsize=1)
def _towns() -> tuple[dict[str, Any], ...]:
    out = []
    for n, r in enumerate(_read("towns.csv"), start=2):
        row: dict[str, Any] = {c: (r[c] or "").strip() for c in TOWN_COLUMNS}
        row["lat"], row["lon"] = float(row["lat"]), float(row["lon"])
        row["population_band"] = int(row["population_band"])
        if not row["town"]:
            raise ValueError(f"towns.csv line {n}: empty town")
        out.append(row)
    return tuple(out)


@lru_cache(maxsize=1)
def _offences() -> tuple[dict[str, Any], ...]:
    out = []
    for n, r in enumerate(_read("offences.csv"), start=2):
        row: dict[str, Any] = {c: (r[c] or "").strip() for c in OFFENCE_COLUMNS}
        for c in OFFENCE_BOOL_COLUMNS:
            row[c] = _bool(row[c], where=f"offences.csv line {n} {c}")
        row["seriousness"] = int(row["seriousness"])
        out.append(row)
    return tuple(out)


@lru_cache(maxsize=1)
def _offence_index() -> dict[str, dict[str, Any]]:
    return {o["code"].upper(): o for o in _offences()}


@lru_cache(maxsize=1)
def _police_forces() -> tuple[dict[str, str], ...]:
    return tuple({k: (v or "").strip() for k, v in r.items()} for r in _read("police_force_areas.csv"))


@lru_cache(maxsize=1)
def _courts() -> tuple[dict[str, Any], ...]:
    out = []
    for n, r in enumerate(_read("courts.csv"), start=2):
        row: dict[str, Any] = {k: _opt_str(v) for k, v in r.items()}
        row["lat"], row["lon"] = _opt_float(r["lat"]), _opt_float(r["lon"])
        for c in _COURT_INT:
            row[c] = _opt_int(r[c])
        for c in _COURT_BOOL:
            row[c] = _bool(r[c], where=f"courts.csv line {n} {c}", optional=True)
        out.append(row)
    return tuple(out)


def towns() -> list[dict[str, Any]]:
    """The gazetteer, one dict per town (floats for lat/lon, int population_band)."""
    return [dict(r) for r in _towns()]


def offences() -> list[dict[str, Any]]:
    """The declared offence table, one dict per offence code (bool flags, int seriousness)."""
    return [dict(r) for r in _offences()]


@lru_cache(maxsize=1)
def _offence_groups() -> dict[str, tuple[dict[str, Any], ...]]:
    out: dict[str, list] = {}
    for o in _offences():
        if o["offence_group"]:
            out.setdefault(o["offence_group"], []).append(o)
    return {g: tuple(v) for g, v in out.items()}


def offence_groups() -> dict[str, tuple[dict[str, Any], ...]]:
    """The declared offence groups: group name -> its offences (rows of the table, read-only)."""
    return _offence_groups()


def offence_by_code(code: str) -> dict[str, Any] | None:
    """The offence with this code (case-insensitive), or None when the table has no such code."""
    row = _offence_index().get((code or "").strip().upper())
    return dict(row) if row is not None else None


def _title_key(title: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", (title or "").casefold()))


@lru_cache(maxsize=1)
def _offence_title_index() -> dict[str, tuple[dict[str, Any], ...]]:
    out: dict[str, list] = {}
    for o in _offences():
        out.setdefault(_title_key(o["title"]), []).append(o)
    return {k: tuple(v) for k, v in out.items()}


def offences_by_title(title: str) -> list[dict[str, Any]]:
    """The offences with this title (case, spacing and punctuation ignored): lists that give an
    offence's title without its code (the public lists) -- several codes may share one title."""
    return [dict(r) for r in _offence_title_index().get(_title_key(title), ())]


def police_forces() -> list[dict[str, str]]:
    """The 43 police force areas (police_force_area, country, counties_covered, ...)."""
    return [dict(r) for r in _police_forces()]


def courts() -> list[dict[str, Any]]:
    """courts.csv rows, typed (empty text -> None)."""
    return [dict(r) for r in _courts()]


@lru_cache(maxsize=1)
def _court_keys() -> dict[str, dict[str, Any]]:
    keys: dict[str, dict[str, Any]] = {}
    for c in _courts():
        if c["fact_court_id"] is not None:
            keys[str(c["fact_court_id"])] = c
        if c["slug"]:
            keys[c["slug"].lower()] = c
    return keys


def court_by_id(ref: str | int) -> dict[str, Any] | None:
    """The court a CaTH ``x-court-id`` names: its FaCT court id (``1479819``) or FaCT slug
    (``preston-magistrates-court``; case and surrounding spaces ignored), or None."""
    key = str(ref).strip().lower()
    if key.isascii() and key.isdigit():
        key = str(int(key))
    row = _court_keys().get(key)
    return dict(row) if row is not None else None


def similar_courts(ref: str, n: int = 3) -> list[str]:
    """Slugs of up to ``n`` courts whose slug or name is close to ``ref`` (a mistyped or partial
    court id: ``preston magistrates`` -> ``preston-magistrates-court``); none for a number."""
    import difflib

    def slugged(s: str) -> str:
        return re.sub(r"[^a-z0-9]+", "-", str(s).casefold().replace("'", "")).strip("-")

    key = slugged(ref)
    if not key or key.isdigit():
        return []
    slugs = sorted({c["slug"] for c in _courts() if c["slug"]})
    if key in slugs:                       # the slug, spelt as a name ("Preston Magistrates' Court")
        return [key]
    by_name = {slugged(c["name"]): c["slug"] for c in _courts() if c["slug"] and c["name"]}
    out = [s for s in slugs if s.startswith(key + "-") or f"-{key}-" in f"-{s}-"]
    out += difflib.get_close_matches(key, slugs, n=n, cutoff=0.75)
    out += [by_name[k] for k in difflib.get_close_matches(key, list(by_name), n=n, cutoff=0.75)]
    return list(dict.fromkeys(out))[:n]


_SPACES = re.compile(r"[\s\-]+")


def name_key(text: str | None) -> str:
    """A court, town or case name as lower-case words: apostrophes dropped, any other run of
    punctuation or spaces one space ("St. Helen's" -> "st helens")."""
    return re.sub(r"[^a-z0-9]+", " ", (text or "").casefold().replace("'", "").replace("\u2019", "")).strip()


def normalise_town(name: str) -> str:
    """A comparison key for town names: case, hyphens/spaces, "St." and apostrophes ignored;
    the court-town quirks of ``COURT_TOWN_ALIASES`` mapped to the gazetteer name."""
    key = _SPACES.sub(" ", (name or "").replace(".", "").replace("'", "").replace("\u2019", "")).strip().lower()
    alias = COURT_TOWN_ALIASES.get(key)
    return normalise_town(alias) if alias else key


@lru_cache(maxsize=1)
def _town_index() -> dict[str, tuple[dict[str, Any], ...]]:
    idx: dict[str, list[dict[str, Any]]] = {}
    for t in _towns():
        idx.setdefault(normalise_town(t["town"]), []).append(t)
    return {k: tuple(v) for k, v in idx.items()}


def find_towns(name: str, police_force_area: str | None = None) -> list[dict[str, Any]]:
    """Gazetteer rows matching ``name`` (see `normalise_town`), optionally within one force."""
    rows = _town_index().get(normalise_town(name), ())
    if police_force_area is not None:
        rows = tuple(r for r in rows if r["police_force_area"] == police_force_area)
    return [dict(r) for r in rows]


def _spellings(name: str) -> set[str]:
    out = {name, name.replace("-", " "), re.sub(r"(?<=\w) (?=\w)", "-", name)}
    for v in list(out):
        out.add(v.replace("'", "").replace("\u2019", ""))
        if re.search(r"\bSt\b(?!\.)", v):
            out.add(re.sub(r"\bSt\b(?!\.)", "St.", v))
        if "St." in v:
            out.add(v.replace("St.", "St"))
    return {v for v in out if v.strip()}


def place_names(town: str) -> set[str]:
    """The ways a list may write a gazetteer town: hyphens or spaces, with or without "St." dots
    and apostrophes, and the `COURT_TOWN_ALIASES` that mean it."""
    names = _spellings(town)
    for alias, target in COURT_TOWN_ALIASES.items():
        if normalise_town(target) == normalise_town(town):
            names |= _spellings(alias.title())
    return names


_RX_SPECIAL = set(".^$*+?()[]{}|\\")


@lru_cache(maxsize=1)
def place_pattern() -> str:
    """``at <Town>`` with every gazetteer name (and spelling variant), longest first.  One group:
    the town as written (`normalise_town` gives its key).  Portable between RE2 (DuckDB), Rust
    regex (polars) and Java regex (Spark)."""
    names: set[str] = set()
    for t in _towns():
        names |= _spellings(t["town"])
    for alias in COURT_TOWN_ALIASES:
        names |= _spellings(alias.title())
    names |= {n.upper() for n in names}
    alts = sorted(names, key=lambda n: (-len(n), n))
    return r"\b[Aa][Tt] (" + "|".join("".join("\\" + c if c in _RX_SPECIAL else c for c in n) for n in alts) + r")\b"
