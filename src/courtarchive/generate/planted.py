"""The case factory: fresh cases of every kind, and the planted structure the truth is about --
grooming/abuse networks (3-15 defendants, 1-20 victims, over years, 1-3 police force areas,
concentrated in hotspot towns), multi-defendant cases, one victim in separate cases with
different defendants, repeat offenders (who may have moved, possibly across a force boundary),
youth defendants and reporting-restriction orders.

Planted follow-up cases wait in ``pending`` (a heap by first-hearing date) until the driver has a
case slot on or after that date; a network's people are kept only until its last case is built.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, replace
from datetime import date, timedelta

from .cases import Case, CaseDefendant, Charge, plan_schedule
from .config import GenConfig
from .names import NamePools, Person, Victim, random_dob
from .offences import Catalogue, complainant_text, fill_wording, victim_fits
from .places import CourtPlan, Places
from .reference import Offence, Reference, Town, haversine_km

__all__ = ["Factory", "Network"]

S45 = "Section 45 of the Youth Justice and Criminal Evidence Act 1999"
S49 = "Section 49 of the Children and Young Persons Act 1933"
S4_2 = "Section 4(2) of the Contempt of Court Act 1981"
_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
_NET_SIZES = list(range(3, 16))
_NET_WEIGHTS = [3.0, 2.5] + [2.0] * 4 + [1.0] * 7


@dataclass
class Network:
    nid: str
    hotspot: Town
    towns: list[Town]                  # per case: the place of offence
    people: list[Person]
    victims: list[Victim]
    cases: list[tuple[list[int], dict[int, list[int]]]]   # (defendant idx, {victim idx: [def idx]})
    dates: list[date]
    built: int = 0


def _fitting(pool: list[Offence], v: Victim, on: date) -> list[Offence]:
    """The offences of ``pool`` whose definition holds for the victim on the date (`victim_fits`);
    the whole pool when none does."""
    return [o for o in pool if victim_fits(o, v, on)] or pool


class Factory:
    def __init__(self, cfg: GenConfig, ref: Reference, places: Places, pools: NamePools,
                 cat: Catalogue, rng: random.Random, start: date, last_first_hearing: date,
                 hotspots: list[Town]):
        self.cfg, self.ref, self.places, self.pools, self.cat, self.rng = cfg, ref, places, pools, cat, rng
        self.start, self.last = start, last_first_hearing
        self.hotspots = hotspots
        self.pending: list = []
        self._seq = 0
        self._pid = self._vid = self._nid = 0
        self._urn_n: dict[tuple, int] = {}
        self._crown_no: dict[tuple, int] = {}
        self.networks_built: list[tuple[str, str, str, str]] = []   # (network_id, case_id, defendant, town)
        styles = cfg.complainant_styles
        self._style_names = [s for s, _ in styles]
        tot = sum(w for _, w in styles)
        acc, self._style_cum = 0.0, []
        for _, w in styles:
            acc += w / tot
            self._style_cum.append(acc)

    # ------------------------------------------------------------ small helpers
    def _push(self, when: date, kind: str, payload) -> None:
        if when <= self.last:
            self._seq += 1
            heapq.heappush(self.pending, (when.toordinal(), self._seq, kind, payload))

    def pop_due(self, day: date):
        if self.pending and self.pending[0][0] <= day.toordinal():
            _, _, kind, payload = heapq.heappop(self.pending)
            return kind, payload
        return None

    def _style(self) -> str:
        x = self.rng.random()
        for name, c in zip(self._style_names, self._style_cum):
            if x < c:
                return name
        return self._style_names[-1]

    def _hotspot(self) -> Town:
        w = list(self.cfg.hotspot_weights[:len(self.hotspots)]) or [1.0]
        w += [w[-1]] * (len(self.hotspots) - len(w))
        x, acc = self.rng.random() * sum(w), 0.0
        for t, wi in zip(self.hotspots, w):
            acc += wi
            if x < acc:
                return t
        return self.hotspots[-1]

    def new_person(self, town: Town | None, on: date, *, youth: bool = False, male: float = 0.8) -> Person:
        r = self.rng
        self._pid += 1
        gender = "male" if r.random() < male else "female"
        middle = None
        x = r.random()
        if x < 0.55:
            middle = self.pools.forename(r, gender)
            if x < 0.05:
                middle += " " + self.pools.forename(r, gender)
        if youth:
            dob = random_dob(r, on, 12, 17)
        else:
            dob = on - timedelta(days=int((18 + min(62.0, r.expovariate(1 / 13.0))) * 365.25))
        if town is not None and r.random() < self.cfg.no_fixed_abode_rate:
            town = None
        pc = self.places.postcode(r, town) if town is not None else ""
        x = r.random
        return Person(pid=f"P{self._pid:07d}", fore=self.pools.forename(r, gender), middle=middle,
                      sur=self.pools.surname(r), gender=gender, dob=dob, town=town,
                      house=1 + int(x() * 239), street=self.pools.street(r), postcode=pc,
                      asn="", pnc=f"{dob.year + 18 + int(x() * 5)}/{1000000 + int(x() * 9000000)}"
                      f"{_LETTERS[int(x() * 23)]}", youth=youth)

    def new_victim(self, offence_on: date, child: bool) -> Victim:
        r = self.rng
        self._vid += 1
        gender = "female" if r.random() < (0.85 if child else 0.6) else "male"
        if child:
            age_lo, age_hi = (12, 15) if r.random() < 0.7 else (5, 16)
        else:
            age_lo, age_hi = 18, 60
        return Victim(vid=f"V{self._vid:07d}", fore=self.pools.forename(r, gender), sur=self.pools.surname(r),
                      gender=gender, dob=random_dob(r, offence_on, age_lo, age_hi))

    def _urn(self, court: CourtPlan, d: date) -> str:
        force = self.ref.pfa_codes.get(court.court.pfa, 99) % 100
        key = (force, court.unit, d.year % 100)
        n = self._urn_n[key] = self._urn_n.get(key, 0) + 1
        return f"{force:02d}{court.unit}{n:05d}{d.year % 100:02d}"

    def _crown_number(self, crown: CourtPlan, d: date) -> str:
        key = (crown.court.idx, d.year)
        n = self._crown_no[key] = self._crown_no.get(key, 0) + 1
        return f"T{d.year}{n % 10000:04d}"

    def _near_town(self, court: CourtPlan, t: Town | None) -> Town:
        """A home town: the given town mostly, else a town served by the court."""
        if t is not None and self.rng.random() < 0.65:
            return t
        return court.town(self.rng)

    def _offence_delay(self, kind: str) -> int:
        r = self.rng
        if kind == "csa":
            if r.random() < 0.45:
                return int(r.lognormvariate(5.7, 0.5))
            return int(365 * (1.5 + r.random() * 14))
        if kind == "sexual":
            return int(r.lognormvariate(5.6, 0.7))
        if kind == "sjp":
            return int(r.lognormvariate(4.2, 0.3))
        return int(r.lognormvariate(3.9, 0.8))

    # ------------------------------------------------------------ assembling a case
    def _charges(self, kind: str, persons: list[Person], victims: list[Victim],
                 links: dict[int, list[int]], place: str | None, offence_date: date,
                 multi: bool) -> list[list[Charge]]:
        r, cat = self.rng, self.cat
        out: list[list[Charge]] = [[] for _ in persons]
        if kind in ("csa", "sexual"):
            pool = cat.csa if kind == "csa" else (cat.sexual_adult or cat.csa)
            with_c = [o for o in pool.items if o.has_complainant] or pool.items
            youth_c = ([o for o in cat.csa_youth.items if o.has_complainant and "aged 18 or over" not in o.template]
                       or with_c) if kind == "csa" else with_c
            for v_i, d_list in sorted(links.items()):
                v = victims[v_i]
                # only charges whose definition holds for this victim (age and sex on the date)
                fits, youth_fits = _fitting(with_c, v, offence_date), _fitting(youth_c, v, offence_date)
                for d_i in d_list:
                    pick = youth_fits if persons[d_i].youth else fits
                    o = pick[int(r.random() * len(pick))]
                    for k in range(1 + (r.random() < 0.45) + (r.random() < 0.2)):
                        if k:
                            o2 = cat.related(r, o)
                            if (not (persons[d_i].youth and "aged 18 or over" in o2.template)
                                    and victim_fits(o2, v, offence_date)):
                                o = o2
                        out[d_i].append(self._charge(o, v if o.has_complainant else None, kind == "csa",
                                                     place, offence_date))
            for d_i, ch in enumerate(out):          # a defendant with no victim link: one count
                if not ch:
                    o = with_c[int(r.random() * len(with_c))]
                    v = victims[int(r.random() * len(victims))] if victims else None
                    if v is not None and not victim_fits(o, v, offence_date):
                        pool = _fitting(with_c, v, offence_date)
                        o = pool[int(r.random() * len(pool))]
                    ch.append(self._charge(o, v if o.has_complainant else None, kind == "csa", place, offence_date))
            return out
        if kind == "sjp":
            for d_i in range(len(persons)):
                for _ in range(1 + (r.random() < 0.3)):
                    out[d_i].append(Charge(cat.sjp.pick(r), ""))
                for ch in out[d_i]:
                    ch.wording = fill_wording(r, ch.offence, when=offence_date, place=place, complainant=None)
            return out
        first = (cat.multi if multi else cat.other).pick(r)
        extra = [cat.other.pick(r) for _ in range((r.random() < 0.35) + (r.random() < 0.1))]
        victim = None
        for d_i in range(len(persons)):
            for o in [first] + (extra if d_i == 0 else []):
                if o.has_complainant and victim is None:
                    victim = self.new_victim(offence_date, child=False)
                    victims.append(victim)
                out[d_i].append(self._charge(o, victim if o.has_complainant else None, False, place, offence_date))
        return out

    def _charge(self, o: Offence, v: Victim | None, child: bool, place: str | None, when: date) -> Charge:
        style = self._style() if v is not None else None
        ch = Charge(o, "", v, style)
        self._word(ch, child, place, when)
        return ch

    def _word(self, ch: Charge, child: bool, place: str | None, when: date) -> None:
        text = complainant_text(self.rng, ch.victim, when, ch.style, child) if ch.victim is not None else None
        ch.wording = fill_wording(self.rng, ch.offence, when=when, place=place, complainant=text)

    def build(self, *, kind: str, court: CourtPlan, first: date, offence_town: Town | None,
              persons: list[Person], victims: list[Victim], links: dict[int, list[int]],
              offence_date: date, network_id: str | None = None, print_place: bool | None = None) -> Case:
        r, cfg = self.rng, self.cfg
        if kind == "csa" and victims:
            # child sexual abuse: the offences happened while every victim named was a child (a
            # victim shared with an earlier case is older now: the charge is historical)
            offence_date = min(offence_date, min(v.dob for v in victims) + timedelta(days=int(18 * 365.25) - 2))
        if print_place is None:
            print_place = r.random() >= cfg.no_place_rate
        town = offence_town if print_place else None
        place = town.name if town is not None else None
        charges = self._charges(kind, persons, victims, links, place, offence_date, len(persons) > 1)
        force = self.ref.pfa_codes.get(court.court.pfa, 99) % 100
        defs = [CaseDefendant(p, ch, asn=f"{first.year % 100:02d}{force:02d}"
                              f"{court.unit}{int(r.random() * 10**7):07d}{_LETTERS[int(r.random() * 23)]}",
                              custody=r.random() < (0.18 if kind in ("csa", "sexual") else 0.07))
                for p, ch in zip(persons, charges)]
        c = Case(case_id=self._urn(court, first), kind=kind, mag=court, crown=court.crown,
                 offence_date=offence_date, offence_town=town, defs=defs, first_hearing=first,
                 youth=any(p.youth for p in persons), network_id=network_id)
        # every (defendant, victim) link must be visible somewhere: wording or a complainant party
        for d in defs:
            seen: dict[str, bool] = {}
            for ch in d.charges:
                if ch.victim is not None:
                    seen[ch.victim.vid] = seen.get(ch.victim.vid, False) or ch.style != "none"
            for vid, ok in seen.items():
                if ok:
                    continue
                v = next(ch.victim for ch in d.charges if ch.victim is not None and ch.victim.vid == vid)
                if len(defs) == 1 and c.complainant_party is None:
                    c.complainant_party = v
                else:
                    ch = next(ch for ch in d.charges if ch.victim is v)
                    ch.style = "described"
                    self._word(ch, kind == "csa", place, offence_date)
        if (c.complainant_party is None and len(defs) == 1 and victims and kind != "sjp"
                and r.random() < cfg.complainant_party_rate):
            linked = [ch.victim for ch in defs[0].charges if ch.victim is not None]
            if linked:
                c.complainant_party = linked[0]
        modes = {ch.offence.mode for d in defs for ch in d.charges}
        if kind in ("csa", "sexual"):
            to_crown = not c.youth or r.random() < 0.3
        elif kind == "sjp" or c.youth:
            to_crown = False
        else:
            to_crown = "indictable" in modes or ("either" in modes and r.random() < 0.22)
        if c.youth:
            c.restriction = S45 if to_crown else S49
        elif to_crown and r.random() < cfg.s4_2_rate:
            c.restriction = S4_2
        if to_crown:
            c.crown_no = self._crown_number(court.crown, first)
        plan_schedule(r, c, to_crown=to_crown)
        c.hearings.sort(key=lambda h: h.when)
        c.n_left = len(c.hearings)
        self._follow_ups(c)
        return c

    def _follow_ups(self, c: Case) -> None:
        r, cfg = self.rng, self.cfg
        for d in c.defs:
            if d.result == "convicted" and d.conviction_date is not None:
                p = cfg.repeat_rate * (0.5 if c.kind == "csa" else 1.0)
                if r.random() < p:
                    gap = timedelta(days=14 + int(r.expovariate(1 / 450.0)))
                    self._push(d.conviction_date + gap, "repeat", (d.person, c.kind, c.mag))
        if (c.kind == "csa" and c.network_id is None and len(c.defs) == 1
                and r.random() < cfg.shared_victim_rate):
            vs = [ch.victim for ch in c.defs[0].charges if ch.victim is not None]
            if vs:
                self._push(c.first_hearing + timedelta(days=60 + r.randrange(640)), "shared",
                           (vs[0], c.mag, c.offence_town or c.mag.town(r), c.offence_date))

    # ------------------------------------------------------------ the kinds of case
    def _first(self, court: CourtPlan, day: date) -> date:
        return court.next_sitting(day + timedelta(days=1 + int(self.rng.random() * 6)))

    def fresh(self, day: date) -> Case:
        r, cfg, pl = self.rng, self.cfg, self.places
        x = r.random()
        kind = ("sjp" if x < cfg.sjp_share else "csa" if x < cfg.sjp_share + cfg.csa_share
                else "sexual" if x < cfg.sjp_share + cfg.csa_share + cfg.sexual_adult_share else "other")
        court = pl.mag_court(r)
        town = None
        n_def = 1
        if kind == "csa" and r.random() < cfg.csa_multi_rate:
            n_def = 2
            if self.hotspots and r.random() < cfg.hotspot_multi_share:
                town = self._hotspot()
                court = pl.mag_court_for_town(town)
        elif kind == "other" and r.random() < cfg.other_multi_rate:
            n_def = 2 + (r.random() < 0.35) + (r.random() < 0.1)
        town = town or court.town(r)
        first = self._first(pl.sjp if kind == "sjp" else court, day)
        offence_date = first - timedelta(days=self._offence_delay(kind))
        youth0 = kind != "sjp" and r.random() < cfg.youth_share
        male = 0.95 if kind in ("csa", "sexual") else 0.8
        persons = [self.new_person(self._near_town(court, town), first, youth=(youth0 and i == 0), male=male)
                   for i in range(n_def)]
        victims: list[Victim] = []
        links: dict[int, list[int]] = {}
        if kind == "csa":
            multi = n_def > 1
            nv = 1 + (r.random() < (0.45 if multi else 0.3)) + (r.random() < (0.15 if multi else 0.1))
            victims = [self.new_victim(offence_date, child=True) for _ in range(nv)]
            for v_i in range(nv):
                links[v_i] = list(range(n_def)) if (not multi or r.random() < 0.85) else [r.randrange(n_def)]
            for d_i in range(n_def):
                if not any(d_i in ds for ds in links.values()):
                    links[0] = sorted(set(links[0]) | {d_i})
        elif kind == "sexual":
            victims = [self.new_victim(offence_date, child=False)]
            links = {0: [0]}
        return self.build(kind=kind, court=court, first=first, offence_town=town, persons=persons,
                          victims=victims, links=links, offence_date=offence_date)

    def planted(self, day: date, kind: str, payload) -> Case:
        r = self.rng
        if kind == "net":
            return self._network_case(day, payload)
        if kind == "shared":
            victim, court, town, prev_offence = payload
            first = self._first(court, day)
            p = self.new_person(self._near_town(court, town), first, male=0.95)
            od = first - timedelta(days=self._offence_delay("csa"))
            od = max(od, prev_offence - timedelta(days=700))
            return self.build(kind="csa", court=court, first=first, offence_town=town, persons=[p],
                              victims=[victim], links={0: [0]}, offence_date=od)
        # a repeat offender's new case
        person, prev_kind, prev_court = payload
        first_guess = day
        p = replace(person, n_cases=person.n_cases + 1, youth=False, addr_cache=None)
        if r.random() < self.cfg.variants.moved:
            home = p.town or prev_court.town(r)
            if r.random() < self.cfg.cross_boundary_repeat:
                other = [t for t in self.places.towns_near_town(home, 80.0) if t.pfa != home.pfa]
                new_town = other[int(r.random() * min(len(other), 8))] if other else prev_court.town(r)
            else:
                new_town = prev_court.town(r)
            p.town, p.house, p.street = new_town, r.randrange(1, 240), self.pools.street(r)
            p.postcode = self.places.postcode(r, new_town)
            p.addr_version += 1
        town = p.town if (p.town is not None and r.random() < 0.7) else None
        court = self.places.mag_court_for_town(town) if town is not None else prev_court
        town = town or court.town(r)
        first = self._first(court, first_guess)
        kind2 = "csa" if (prev_kind == "csa" and r.random() < 0.25) else "other"
        p.youth = (first - p.dob).days < 18 * 365.25
        od = first - timedelta(days=self._offence_delay(kind2))
        victims = [self.new_victim(od, child=True)] if kind2 == "csa" else []
        return self.build(kind=kind2, court=court, first=first, offence_town=town, persons=[p],
                          victims=victims, links={0: [0]} if victims else {}, offence_date=od)

    # ------------------------------------------------------------ networks
    def plan_networks(self, n_cases: int) -> int:
        """Plant ``networks_per_1000_cases`` networks; their cases wait in ``pending``."""
        cfg, r = self.cfg, self.rng
        n = round(n_cases * cfg.networks_per_1000_cases / 1000.0)
        if n == 0 and n_cases >= 200 and cfg.networks_per_1000_cases > 0:
            n = 1
        if not self.hotspots:
            return 0
        span = (self.last - self.start).days
        lo_d, hi_d = cfg.network_defendants
        sizes = [s for s in _NET_SIZES if lo_d <= s <= hi_d] or [lo_d]
        weights = [w for s, w in zip(_NET_SIZES, _NET_WEIGHTS) if lo_d <= s <= hi_d] or [1.0]
        for _ in range(n):
            s0 = self.start + timedelta(days=int(r.random() * span * 0.8))
            m = r.choices(sizes, weights)[0]
            self._plan_network(m, s0)
        return n

    def _plan_network(self, m: int, s0: date) -> None:
        r, cfg = self.rng, self.cfg
        self._nid += 1
        nid = f"N{self._nid:04d}"
        hot = self._hotspot()
        lo_v, hi_v = cfg.network_victims
        nv = max(lo_v, min(hi_v, round(m * (0.6 + r.random()))))
        nc = max(1, min(m, round(m / (2.2 + r.random() * 1.3))))
        k_lo, k_hi = cfg.network_pfas
        k = max(k_lo, min(k_hi, 1 + (r.random() < 0.5) + (r.random() < 0.3)))
        near = self.places.towns_near_town(hot, 60.0)
        other_pfa: list[Town] = []
        for t in near:
            if t.pfa != hot.pfa and all(t.pfa != u.pfa for u in other_pfa):
                other_pfa.append(t)
        other_pfa = other_pfa[:k - 1]
        same = [t for t in self.places.towns_near_town(hot, 15.0) if t.pfa == hot.pfa]
        towns = [hot]
        for i in range(1, nc):
            if i - 1 < len(other_pfa):
                towns.append(other_pfa[i - 1])
            elif same and r.random() < 0.3:
                towns.append(same[int(r.random() * len(same))])
            else:
                towns.append(hot)
        court0 = self.places.mag_court_for_town(hot)
        people = []
        for _ in range(m):
            home = hot if r.random() < 0.6 else towns[int(r.random() * len(towns))]
            people.append(self.new_person(home, s0, male=0.97))
        offence0 = s0 - timedelta(days=365 + int(r.random() * 4 * 365))
        victims = [self.new_victim(offence0, child=True) for _ in range(nv)]
        order = list(range(m))
        r.shuffle(order)
        cuts = sorted(r.sample(range(1, m), nc - 1)) if nc > 1 else []
        groups = [order[a:b] for a, b in zip([0] + cuts, cuts + [m])]
        vcase: list[list[int]] = [[] for _ in range(nc)]
        for v in range(nv):
            vcase[v % nc if v < nc else int(r.random() * nc)].append(v)
        for i in range(nc):
            if not vcase[i]:
                vcase[i].append(int(r.random() * nv))
            if i > 0:
                j = int(r.random() * i)
                shared = vcase[j][int(r.random() * len(vcase[j]))]
                if shared not in vcase[i]:
                    vcase[i].append(shared)
        cases = []
        for i in range(nc):
            defs = groups[i]
            links: dict[int, list[int]] = {}
            for v in vcase[i]:
                if len(defs) == 1 or r.random() < 0.7:
                    links[v] = list(range(len(defs)))
                else:
                    links[v] = sorted(r.sample(range(len(defs)), 1 + int(r.random() * (len(defs) - 1))))
            for d_i in range(len(defs)):
                if not any(d_i in ds for ds in links.values()):
                    links[vcase[i][0]] = sorted(set(links[vcase[i][0]]) | {d_i})
            cases.append((defs, links))
        room = max(0, min(3 * 365, (self.last - s0).days))
        offsets = sorted(int(r.random() * room) for _ in range(nc - 1))
        dates = [s0] + [s0 + timedelta(days=o) for o in offsets]
        net = Network(nid, hot, towns, people, victims, cases, dates)
        del court0
        for i, d in enumerate(dates):
            self._push(d, "net", (net, i))

    def _network_case(self, day: date, payload) -> Case:
        net, i = payload
        r = self.rng
        defs, links = net.cases[i]
        town = net.towns[i]
        court = self.places.mag_court_for_town(town)
        first = self._first(court, day)
        persons = [net.people[j] for j in defs]
        vids = sorted(links)
        victims = [net.victims[v] for v in vids]
        local = {v: k for k, v in enumerate(vids)}
        loc_links = {local[v]: ds for v, ds in links.items()}
        od = first - timedelta(days=200 + int(r.random() * 3 * 365))
        c = self.build(kind="csa", court=court, first=first, offence_town=town, persons=persons,
                       victims=victims, links=loc_links, offence_date=od, network_id=net.nid)
        for d in c.defs:
            self.networks_built.append((net.nid, c.case_id, d.person.pid, net.hotspot.name))
        net.built += 1
        if net.built == len(net.cases):      # forget the network's people
            net.people, net.victims = [], []
        return c
