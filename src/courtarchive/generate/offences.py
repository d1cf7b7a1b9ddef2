"""Offences: which offences a case of each kind is charged with, and the wording registers print.

Wording comes from the templates of ``data/offences.csv`` (placeholders {date} {place}
{complainant} {property} {value} {vehicle} {drug}).  The place of offence is printed as
"at <Town>" (or left out: the case then has no place of offence); a complainant is printed as
registers show them: named ("a girl aged 14, namely Jane SMITH"), by initials ("J.S."),
described only ("a child under 13") or not at all.
"""

from __future__ import annotations

import random
import re
from bisect import bisect
from datetime import date
from itertools import accumulate

from .names import Victim, age_on
from .reference import Offence, Reference

__all__ = ["Catalogue", "complainant_text", "victim_fits"]

PROPERTY = ("a mobile phone", "a quantity of meat", "a pedal cycle", "cash", "a handbag",
            "alcohol", "perfume", "power tools", "a laptop computer", "clothing", "a wallet",
            "razor blades", "a catalytic converter", "jewellery", "a games console")
VEHICLES = ("Ford Fiesta", "Vauxhall Corsa", "Volkswagen Golf", "Ford Focus", "BMW 3 Series",
            "Nissan Qashqai", "Audi A3", "Toyota Yaris", "Mercedes-Benz C Class", "Peugeot 208")
DRUGS = {"A": ("cocaine", "diamorphine (heroin)", "MDMA", "crack cocaine"),
         "B": ("cannabis", "amphetamine", "ketamine"),
         "C": ("diazepam", "pregabalin", "alprazolam")}
_PLATE = "ABCDEFGHJKLMNOPRSTUVWXY"
_PLACE_PHRASE = re.compile(r"\s*\b(?:[Aa]t|[Ii]n|[Nn]ear|[Ww]ithin)\s+\{place\}")
_SPACES = re.compile(r"\s{2,}")

SJP_GROUPS = ("sjp_regulatory", "motoring")
GROUP_WEIGHTS = {"theft": 5.0, "violence": 5.0, "drugs": 2.5, "public_order": 2.0, "motoring": 3.0,
                 "criminal_damage": 1.8, "fraud": 1.2, "weapons": 1.0, "robbery": 0.6,
                 "harassment": 1.5, "other": 1.2, "homicide": 0.05, "modern_slavery": 0.1,
                 "fgm": 0.03}
MULTI_GROUPS = ("robbery", "violence", "drugs", "public_order", "theft", "weapons", "fraud")


class _Pool:
    def __init__(self, items: list[Offence], weights: list[float] | None = None):
        self.items = items
        self.cum = list(accumulate(weights if weights is not None else [1.0] * len(items)))

    def __bool__(self) -> bool:
        return bool(self.items)

    def pick(self, rng: random.Random) -> Offence:
        return self.items[bisect(self.cum, rng.random() * self.cum[-1])]


class Catalogue:
    def __init__(self, ref: Reference):
        offs = [o for o in ref.offences if o.template]
        self.csa = _Pool([o for o in offs if o.csa and not o.youth_only])
        self.csa_youth = _Pool([o for o in offs if o.csa])     # youth defendants: s.13 too
        self.sexual_adult = _Pool([o for o in offs if o.sexual and not o.csa and not o.youth_only])
        sjp = [o for o in offs if o.group in SJP_GROUPS and o.seriousness <= 1 and not o.has_complainant]
        self.sjp = _Pool(sjp or [o for o in offs if o.mode == "summary" and not o.has_complainant][:10])
        sjp_codes = {o.code for o in self.sjp.items}
        other = [o for o in offs if not o.sexual and not o.youth_only and o.code not in sjp_codes]
        n_in = {}
        for o in other:
            n_in[o.group] = n_in.get(o.group, 0) + 1
        w = [GROUP_WEIGHTS.get(o.group, 1.0) / n_in[o.group] / (1.0 + 0.2 * o.seriousness) for o in other]
        self.other = _Pool(other, w)
        multi = [(o, x) for o, x in zip(other, w) if o.group in MULTI_GROUPS]
        self.multi = _Pool([o for o, _ in multi], [x for _, x in multi]) if multi else self.other
        self.by_group: dict[str, list[Offence]] = {}
        for o in offs:
            self.by_group.setdefault(o.group, []).append(o)
        if not self.csa:
            raise ValueError("offences.csv has no child_sexual_abuse offences")

    def related(self, rng: random.Random, o: Offence) -> Offence:
        """Another offence of the same group (a further count)."""
        g = [x for x in self.by_group.get(o.group, [o]) if x.csa == o.csa and not x.youth_only] or [o]
        return g[int(rng.random() * len(g))]


def _drug(rng: random.Random, text: str) -> str:
    cls = "A" if "class a" in text.lower() else "C" if "class c" in text.lower() else "B"
    opts = DRUGS[cls]
    return opts[int(rng.random() * len(opts))]


_SOA_SECTION = re.compile(r"Sexual Offences Act 2003, s\.(\d+)")


def victim_fits(o: Offence, v: Victim, on: date) -> bool:
    """Whether an offence's definition holds for the victim on the date, as a charge must: Sexual
    Offences Act 2003 ss.5-8 (a child under 13), ss.9-15A (a child under 16), ss.47-50 (under 18);
    an offence of a girl or of a boy (the CPS codes of s.5), that sex.  Without it a 17-year-old
    boy could be charged as the victim of "attempt to rape a girl under 13", and the wording's own
    words ("..., a girl under the age of 13") then contradicted what other charges said of him."""
    if not o.has_complainant:
        return True
    title = o.title.lower()
    if (" girl" in title and v.gender != "female") or (" boy" in title and v.gender != "male"):
        return False
    m = _SOA_SECTION.search(o.legislation)
    sec = int(m.group(1)) if m else None
    limit = (13 if "under 13" in title or (sec is not None and 5 <= sec <= 8)
             else 16 if sec is not None and 9 <= sec <= 15
             else 18 if sec is not None and 47 <= sec <= 50 else None)
    return limit is None or age_on(v.dob, on) < limit


def complainant_text(rng: random.Random, v: Victim, on: date, style: str, child: bool) -> str:
    """The complainant as a register prints them (style named | initials | described | none)."""
    age = age_on(v.dob, on)
    kid = "girl" if v.gender == "female" else "boy"
    if child:
        if age < 13:
            desc = "a child under 13" if rng.random() < 0.6 else f"a {kid} aged {max(age, 5)}"
        elif age < 16:
            desc = f"a {kid} under 16" if rng.random() < 0.5 else f"a {kid} aged {age}"
        else:
            desc = f"a {kid} aged {min(age, 17)}" if rng.random() < 0.6 else "a person under 18"
    else:
        desc = "a female" if v.gender == "female" else "a male"
    if style == "named":
        if child:
            name = f"{v.fore} {v.sur.upper()}" if rng.random() < 0.75 else f"{v.sur.upper()}, {v.fore}"
            return f"{desc}, namely {name}" if rng.random() < 0.7 else name
        return f"{v.fore} {v.sur.upper()}" if rng.random() < 0.6 else f"{v.fore} {v.sur}"
    if style == "initials":
        ini = f"{v.fore[0]}.{v.sur[0]}."
        return f"{desc}, namely {ini}" if child and rng.random() < 0.5 else ini
    if style == "described":
        return desc
    return "a person" if child else "another"


def fill_wording(rng: random.Random, o: Offence, *, when: date, place: str | None,
                 complainant: str | None) -> str:
    t = o.template
    if "{place}" in t:
        t = _PLACE_PHRASE.sub("", t) if place is None else t
        t = t.replace("{place}", place or "")
    elif place is not None:
        t = t.replace("{date}", "{date} at " + place, 1) if "{date}" in t else f"At {place}, {t[:1].lower()}{t[1:]}"
    if "{date}" in t:
        t = t.replace("{date}", f"{when.day:02d}/{when.month:02d}/{when.year:04d}")
    if "{complainant}" in t:
        t = t.replace("{complainant}", complainant or "another")
    if "{property}" in t:
        t = t.replace("{property}", PROPERTY[int(rng.random() * len(PROPERTY))])
    if "{value}" in t:
        t = t.replace("{value}", f"£{5 + int(rng.random() * 2495)}.{int(rng.random() * 100):02d}")
    if "{vehicle}" in t:
        r = rng.random
        plate = (f"{_PLATE[int(r() * 23)]}{_PLATE[int(r() * 23)]}{10 + int(r() * 63)} "
                 f"{_PLATE[int(r() * 23)]}{_PLATE[int(r() * 23)]}{_PLATE[int(r() * 23)]}")
        t = t.replace("{vehicle}", f"a {VEHICLES[int(rng.random() * len(VEHICLES))]} registration {plate}")
    if "{drug}" in t:
        t = t.replace("{drug}", _drug(rng, o.title + " " + o.template))
    return (_SPACES.sub(" ", t) if "  " in t else t).strip()
