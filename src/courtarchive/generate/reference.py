"""Shipped reference tables, read lazily: courts, towns, offences, police force areas, name variants.

Reads ``courtarchive/data/*.csv`` with importlib.resources (or the CSVs of ``data_dir``, for
tests).  Columns used
    courts.csv      fact_court_id, name, slug, court_types, lat, lon, postcode, town, fact_county,
                    address, crown_court_code, magistrate_code, police_force_area
    towns.csv       town, lat, lon, county, police_force_area, country, population_band
    offences.csv    code, title, legislation, act, section, offence_group, child_sexual_abuse,
                    youth_court_only, seriousness, sch18, wording_template, ...
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

__all__ = ["Court", "Town", "Offence", "Reference", "load_reference", "haversine_km"]


@dataclass(frozen=True)
class Court:
    idx: int
    fact_id: str
    name: str
    slug: str
    lat: float
    lon: float
    postcode: str
    town: str
    county: str
    address: str
    pfa: str
    crown_code: int | None
    is_mags: bool
    is_crown: bool
    mags_code: int | None = None
    gazetteer_town: str = ""         # the town as named in towns.csv (normalised court town)


@dataclass(frozen=True)
class Town:
    idx: int
    name: str
    lat: float
    lon: float
    county: str
    pfa: str
    weight: float          # population weight


@dataclass(frozen=True)
class Offence:
    code: str
    title: str
    legislation: str
    group: str
    csa: bool
    sexual: bool
    youth_only: bool
    mode: str              # summary | either | indictable
    template: str
    has_complainant: bool
    seriousness: int = 3


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 12742.0 * math.asin(min(1.0, math.sqrt(a)))


def _read(name: str, data_dir: str | None) -> list[dict]:
    if data_dir is not None and (Path(data_dir) / name).exists():
        text = (Path(data_dir) / name).read_text("utf-8")
    else:
        res = resources.files("courtarchive.data").joinpath(name)
        if not res.is_file():
            raise FileNotFoundError(f"courtarchive/data/{name} is missing (needed by the generator)")
        text = res.read_text("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _flag(v: str | None) -> bool:
    return (v or "").strip().lower() in ("true", "1", "yes", "y", "t")


def _float(v: str | None) -> float | None:
    try:
        return float(v) if v not in (None, "") else None
    except ValueError:
        return None


_NUM = re.compile(r"(\d+(?:\.\d+)?)\s*([kKmM]?)")
_WORDS = {"village": 0.3, "small": 1.0, "town": 2.0, "medium": 3.0, "large": 8.0,
          "city": 15.0, "major": 25.0, "metropolitan": 40.0, "conurbation": 40.0}


def band_weight(band: str | None) -> float:
    """A sampling weight from a population band ("50k-100k", "large town", "3", 120000, ...)."""
    s = (band or "").strip().lower()
    if not s:
        return 1.0
    nums = []
    for n, suf in _NUM.findall(s):
        x = float(n) * (1000 if suf.lower() == "k" else 1_000_000 if suf.lower() == "m" else 1)
        nums.append(x)
    if nums:
        x = sum(nums) / len(nums)
        if x <= 10:                      # an ordinal band 1..10
            return 0.5 * 2.0 ** x
        return max(0.3, math.sqrt(x / 10_000.0))
    for w, val in sorted(_WORDS.items(), key=lambda kv: -kv[1]):
        if w in s:
            return val
    return 1.0


def _mode(row: dict) -> str:
    s = (row.get("seriousness") or "").strip().lower()
    if "indictable" in s and "either" not in s:
        return "indictable"
    if "either" in s:
        return "either"
    if "summary" in s:
        return "summary"
    x = _float(s)
    if x is not None:     # seriousness 1-10
        return "indictable" if x >= 7 else "either" if x >= 4 else "summary"
    return "either"


@dataclass
class Reference:
    courts: list[Court]
    mags: list[Court]
    crowns: list[Court]
    towns: list[Town]
    town_by_name: dict[str, Town]
    offences: list[Offence]
    offence_by_code: dict[str, Offence]
    pfa_codes: dict[str, int]
    variants: dict[str, list[str]]      # lowercase name -> other spellings of the same name

    def offences_where(self, pred) -> list[Offence]:
        return [o for o in self.offences if pred(o)]


def _variants(data_dir: str | None) -> dict[str, list[str]]:
    try:
        from ..governance.pseudonym import load_name_variants
        table = dict(load_name_variants(None if data_dir is None or not (Path(data_dir) / "name_variants.csv").exists()
                                        else str(Path(data_dir) / "name_variants.csv")))
    except Exception:   # noqa: BLE001 - fall back to reading the CSV directly
        table = {r["variant"].strip(): r["canonical"].strip() for r in _read("name_variants.csv", data_dir)}
    groups: dict[str, list[str]] = {}
    for v, c in table.items():
        groups.setdefault(c, [c]).append(v)
    out: dict[str, list[str]] = {}
    for members in groups.values():
        for m in members:
            out[m] = [x for x in members if x != m]
    return out


def _norm(name: str) -> str:
    try:
        from ..data.reference import normalise_town
    except ImportError:  # pragma: no cover - the gazetteer helper ships with the data
        return re.sub(r"[\s\-]+", " ", name.replace(".", "").replace("'", "")).strip().lower()
    return normalise_town(name)


def _with_towns(courts: list[Court], towns: list[Town]) -> list[Court]:
    """Each court with the towns.csv name of its town (same force preferred; else the nearest)."""
    from dataclasses import replace
    index: dict[str, list[Town]] = {}
    for t in towns:
        index.setdefault(_norm(t.name), []).append(t)
    out = []
    for c in courts:
        match = index.get(_norm(c.town), [])
        best = next((t for t in match if t.pfa == c.pfa), match[0] if match else None)
        if best is None and towns:
            best = min(towns, key=lambda t: haversine_km(c.lat, c.lon, t.lat, t.lon))
        out.append(replace(c, gazetteer_town=best.name if best is not None else c.town))
    return out


@lru_cache(maxsize=4)
def load_reference(data_dir: str | None = None) -> Reference:
    courts: list[Court] = []
    for r in _read("courts.csv", data_dir):
        types = r.get("court_types") or ""
        lat, lon = _float(r.get("lat")), _float(r.get("lon"))
        if lat is None or lon is None:
            continue
        code = r.get("crown_court_code") or ""
        is_crown = "Crown Court" in types and code.strip().isdigit()
        is_mags = "Magistrates" in types
        if not (is_crown or is_mags):
            continue
        courts.append(Court(
            idx=len(courts), fact_id=str(r["fact_court_id"]), name=r["name"], slug=r["slug"],
            lat=lat, lon=lon, postcode=(r.get("postcode") or "").strip(), town=(r.get("town") or "").strip(),
            county=(r.get("fact_county") or "").strip(), address=(r.get("address") or "").strip(),
            pfa=(r.get("police_force_area") or "").strip(),
            crown_code=int(code) if is_crown else None, is_mags=is_mags, is_crown=is_crown,
            mags_code=int(r["magistrate_code"]) if (r.get("magistrate_code") or "").strip().isdigit() else None))
    towns: list[Town] = []
    seen: set[tuple[str, str]] = set()
    for r in _read("towns.csv", data_dir):
        lat, lon = _float(r.get("lat")), _float(r.get("lon"))
        name = (r.get("town") or "").strip()
        if lat is None or lon is None or not name or (name, r.get("police_force_area")) in seen:
            continue
        seen.add((name, r.get("police_force_area")))
        towns.append(Town(len(towns), name, lat, lon, (r.get("county") or "").strip(),
                          (r.get("police_force_area") or "").strip(), band_weight(r.get("population_band"))))
    offences: list[Offence] = []
    for r in _read("offences.csv", data_dir):
        tpl = (r.get("wording_template") or r.get("title") or "").strip()
        group = (r.get("offence_group") or "other").strip()
        offences.append(Offence(
            code=r["code"].strip(), title=(r.get("title") or "").strip(),
            legislation=(r.get("legislation") or "").strip(), group=group,
            csa=_flag(r.get("child_sexual_abuse")),
            sexual=_flag(r.get("child_sexual_abuse")) or _flag(r.get("so_aa_1992")) or "sex" in group.lower(),
            youth_only=_flag(r.get("youth_court_only")), mode=_mode(r), template=tpl,
            has_complainant="{complainant}" in tpl,
            seriousness=int(_float(r.get("seriousness")) or 3)))
    courts = _with_towns(courts, towns)
    pfas = [r["police_force_area"].strip() for r in _read("police_force_areas.csv", data_dir)]
    pfa_codes = {p: i + 1 for i, p in enumerate(pfas)}
    return Reference(
        courts=courts, mags=[c for c in courts if c.is_mags], crowns=[c for c in courts if c.is_crown],
        towns=towns, town_by_name={t.name: t for t in towns}, offences=offences,
        offence_by_code={o.code: o for o in offences}, pfa_codes=pfa_codes,
        variants=_variants(data_dir))
