"""Courts, sitting days, towns near courts, addresses and postcodes.

A corpus of N cases uses a subset of the real courts proportional to N (always including the
courts nearest the hotspot towns), each sitting on a few fixed weekdays, so that a list holds tens
of entries rather than one.
"""

from __future__ import annotations

import math
import random
from bisect import bisect
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate

from .reference import Court, Reference, Town, haversine_km

__all__ = ["CourtPlan", "Places", "SJP_COURT"]

_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
#: the "court" of the national SJP lists (they name no court; FaCT id 0)
SJP_COURT = Court(idx=-1, fact_id="0", name="Single Justice Procedure", slug="single-justice-procedure",
                  lat=0.0, lon=0.0, postcode="", town="", county="", address="", pfa="",
                  crown_code=None, is_mags=True, is_crown=False)


@dataclass
class CourtPlan:
    court: Court
    weight: float
    weekdays: tuple[int, ...] = (0,)
    next_off: tuple[int, ...] = (0,) * 7
    towns: list[Town] = field(default_factory=list)
    towns_cum: list[float] = field(default_factory=list)
    crown: "CourtPlan | None" = None        # where this magistrates' court sends cases
    unit: str = "AA"                        # police unit letters used in URNs

    period: int = 1                         # sits every `period` weeks ...
    phase: int = 0                          # ... in the weeks with index % period == phase

    def set_days(self, days: tuple[int, ...], period: int = 1, phase: int = 0) -> None:
        self.weekdays = tuple(sorted(set(days)))
        self.next_off = tuple(min((d - w) % 7 for d in self.weekdays) for w in range(7))
        self.period, self.phase = max(1, period), phase % max(1, period)

    def next_sitting(self, d: date) -> date:
        """The first sitting day on or after ``d`` (no sittings 24 December - 1 January)."""
        while True:
            cand = d + timedelta(days=self.next_off[d.weekday()])
            if self.period > 1:
                week = (cand.toordinal() - 1) // 7
                r = (week - self.phase) % self.period
                if r:
                    d = date.fromordinal((week + self.period - r) * 7 + 1)
                    continue
            if (cand.month == 12 and cand.day >= 24) or (cand.month == 1 and cand.day == 1):
                d = date(cand.year + (cand.month == 12), 1, 2)
                continue
            return cand

    def town(self, rng: random.Random) -> Town:
        return self.towns[bisect(self.towns_cum, rng.random() * self.towns_cum[-1])]


def _pattern(sittings_per_week: float, i: int) -> tuple[tuple[int, ...], int, int]:
    """(weekdays, period in weeks, phase) for about ``sittings_per_week`` sittings a week."""
    if sittings_per_week >= 1.0:
        k = min(5, math.ceil(sittings_per_week - 0.25))
        step = 5 // k if k < 5 else 1
        return tuple((i + j * step) % 5 for j in range(k)), 1, 0
    period = max(1, min(13, round(1.0 / max(sittings_per_week, 1e-6))))
    return (i % 5,), period, i


def _points(items) -> list[tuple[float, float, float]]:
    """(latitude in radians, its cosine, longitude in degrees) of each item."""
    return [(math.radians(x.lat), math.cos(math.radians(x.lat)), x.lon) for x in items]


def _distances(lat: float, lon: float, pts: list) -> list[float]:
    """`haversine_km` from (lat, lon) to every point, the same arithmetic (the same floats)."""
    sin, asin, sqrt, rad = math.sin, math.asin, math.sqrt, math.radians
    p1 = rad(lat)
    c1 = math.cos(p1)
    return [12742.0 * asin(min(1.0, sqrt(sin((p2 - p1) / 2) ** 2 + c1 * c2 * sin(rad(lon2 - lon) / 2) ** 2)))
            for p2, c2, lon2 in pts]


def _pick_weighted(rng: random.Random, items: list, weights: list[float], k: int) -> list:
    """k distinct items, weighted (Efraimidis-Spirakis keys), deterministic for the rng."""
    keyed = sorted(((rng.random() ** (1.0 / max(w, 1e-9)), i) for i, w in enumerate(weights)), reverse=True)
    return [items[i] for _, i in keyed[:k]]


class Places:
    def __init__(self, ref: Reference, n_cases: int, years: float, rng: random.Random,
                 hotspots: tuple[str, ...], radius_km: float, mags_per_day: int, crown_per_day: int):
        self.ref = ref
        self.radius = radius_km
        tw = {t.name: t.weight for t in ref.towns}
        self.hotspots = [ref.town_by_name[h] for h in hotspots if h in ref.town_by_name]
        n_m = max(4, min(len(ref.mags), round(n_cases / 1500)))
        n_c = max(2, min(len(ref.crowns), round(n_cases / 5000)))
        forced_m = {self._nearest(ref.mags, t).idx for t in self.hotspots}
        forced_c = {self._nearest(ref.crowns, t).idx for t in self.hotspots}
        rest_m = [c for c in ref.mags if c.idx not in forced_m]
        rest_c = [c for c in ref.crowns if c.idx not in forced_c]
        mags = [c for c in ref.mags if c.idx in forced_m] + _pick_weighted(
            rng, rest_m, [tw.get(c.town, 2.0) for c in rest_m], max(0, n_m - len(forced_m)))
        crowns = [c for c in ref.crowns if c.idx in forced_c] + _pick_weighted(
            rng, rest_c, [tw.get(c.town, 2.0) for c in rest_c], max(0, n_c - len(forced_c)))
        mags.sort(key=lambda c: c.idx)
        crowns.sort(key=lambda c: c.idx)
        self.mags = [CourtPlan(c, tw.get(c.town, 2.0)) for c in mags]
        self.crowns = [CourtPlan(c, tw.get(c.town, 2.0)) for c in crowns]
        weeks = max(1.0, years * 52.18)
        for p in self.mags:
            p.towns, p.towns_cum = self._towns_near(p.court)
            # size: the court's own town and, more weakly, the population it serves
            p.weight = tw.get(p.court.gazetteer_town, 2.0) + 0.5 * p.towns_cum[-1]
        self._mag_cum = list(accumulate(p.weight for p in self.mags))
        tot_m = sum(p.weight for p in self.mags)
        for i, p in enumerate(self.mags):
            p.crown = min(self.crowns, key=lambda cp: haversine_km(p.court.lat, p.court.lon, cp.court.lat, cp.court.lon))
            p.unit = _INWARD_LETTERS[rng.randrange(20)] + _INWARD_LETTERS[rng.randrange(20)]
            share = p.weight / tot_m
            if p.court.idx in forced_m:          # hotspot courts also take the planted cases
                share += 0.015
            p.set_days(*_pattern(n_cases * share * 2.6 / weeks / mags_per_day, i))
        load_c = {id(c): 0.0 for c in self.crowns}
        for p in self.mags:
            load_c[id(p.crown)] += p.weight / tot_m
        for i, c in enumerate(self.crowns):
            c.towns, c.towns_cum = self._towns_near(c.court)
            per_week = n_cases * load_c[id(c)] * 0.2 * 5.0 / weeks
            c.set_days(*_pattern(per_week / crown_per_day, i * 2 + 1))
        #: the national SJP list (CaTH publishes SJP lists for all of England and Wales)
        self.sjp = CourtPlan(SJP_COURT, 1.0)
        self.sjp.set_days(*_pattern(n_cases * 0.16 / weeks / 40.0, 2))
        self._outward: dict[str, str] = {}
        self._town_pts: list | None = None
        self._court_pts: list | None = None
        self._near_cache: dict[tuple, list[Town]] = {}
        self._court_for: dict[int, CourtPlan] = {}

    # ------------------------------------------------------------ courts
    @staticmethod
    def _nearest(courts: list[Court], t: Town) -> Court:
        return min(courts, key=lambda c: haversine_km(t.lat, t.lon, c.lat, c.lon))

    def mag_court(self, rng: random.Random) -> CourtPlan:
        return self.mags[bisect(self._mag_cum, rng.random() * self._mag_cum[-1])]

    def mag_court_for_town(self, t: Town) -> CourtPlan:
        got = self._court_for.get(t.idx)
        if got is None:
            got = self._court_for[t.idx] = min(
                self.mags, key=lambda p: haversine_km(t.lat, t.lon, p.court.lat, p.court.lon))
        return got

    def _towns_near(self, c: Court) -> tuple[list[Town], list[float]]:
        near = []
        for t in self.ref.towns:
            d = haversine_km(c.lat, c.lon, t.lat, t.lon)
            if d <= self.radius:
                near.append((t, t.weight / (1.0 + d / 8.0)))
        if not near:
            t = min(self.ref.towns, key=lambda t: haversine_km(c.lat, c.lon, t.lat, t.lon))
            near = [(t, 1.0)]
        return [t for t, _ in near], list(accumulate(w for _, w in near))

    def towns_near_town(self, t: Town, km: float = 30.0) -> list[Town]:
        got = self._near_cache.get((t.idx, km))
        if got is None:
            if self._town_pts is None:
                self._town_pts = _points(self.ref.towns)
            ds = _distances(t.lat, t.lon, self._town_pts)
            got = [u for d, _, _, u in sorted((d, u.name, u.idx, u) for d, u in zip(ds, self.ref.towns)
                                              if u is not t and d <= km)]
            self._near_cache[(t.idx, km)] = got
        return got

    # ------------------------------------------------------------ addresses
    def outward(self, t: Town) -> str:
        """A postcode district consistent with the town: the nearest court's district."""
        o = self._outward.get(t.name)
        if o is None:
            if self._court_pts is None:
                self._court_pts = _points(self.ref.courts)
            ds = _distances(t.lat, t.lon, self._court_pts)
            c = self.ref.courts[ds.index(min(ds))]          # the first nearest, as min() picks
            o = (c.postcode.split() or ["ZZ1"])[0]
            self._outward[t.name] = o
        return o

    def postcode(self, rng: random.Random, t: Town) -> str:
        r = rng.random
        return (f"{self.outward(t)} {1 + int(r() * 9)}"
                f"{_INWARD_LETTERS[int(r() * 20)]}{_INWARD_LETTERS[int(r() * 20)]}")
