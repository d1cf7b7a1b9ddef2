"""People: name pools drawn once per run (Faker en_GB, seeded), persons, and how a mention of a
person differs from the person (variants, typos, middle names, swaps, dates of birth).

Surnames repeat as in England & Wales: a head of very common names (Smith, Jones, Khan, ...)
with their approximate share of the population, then a Zipf tail of Faker's en_GB names.
"""

from __future__ import annotations

import random
from bisect import bisect
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate

from .config import VariantRates

__all__ = ["NamePools", "Person", "Victim", "Mention", "render_person", "age_on", "VARIANT_KEYS"]

# approximate share (%) of the population of England & Wales
COMMON_SURNAMES = (
    ("Smith", 1.15), ("Jones", 0.9), ("Williams", 0.62), ("Taylor", 0.5), ("Brown", 0.48),
    ("Davies", 0.45), ("Evans", 0.33), ("Wilson", 0.32), ("Thomas", 0.3), ("Johnson", 0.29),
    ("Roberts", 0.29), ("Khan", 0.2), ("Robinson", 0.22), ("Thompson", 0.22), ("Wright", 0.22),
    ("Walker", 0.21), ("White", 0.2), ("Edwards", 0.2), ("Hughes", 0.2), ("Green", 0.19),
    ("Hall", 0.19), ("Ali", 0.17), ("Lewis", 0.18), ("Harris", 0.18), ("Clarke", 0.18),
    ("Patel", 0.18), ("Hussain", 0.16), ("Jackson", 0.17), ("Wood", 0.16), ("Turner", 0.16),
    ("Martin", 0.16), ("Cooper", 0.16), ("Hill", 0.16), ("Ahmed", 0.14), ("Ward", 0.15),
    ("Morris", 0.15), ("Moore", 0.15), ("Clark", 0.15), ("Lee", 0.14), ("King", 0.14),
    ("Baker", 0.14), ("Harrison", 0.14), ("Morgan", 0.14), ("Allen", 0.13), ("James", 0.13),
    ("Scott", 0.13), ("Phillips", 0.12), ("Watson", 0.12), ("Davis", 0.12), ("Parker", 0.12),
    ("Price", 0.12), ("Bennett", 0.11), ("Young", 0.11), ("Griffiths", 0.11), ("Mitchell", 0.11),
    ("Kelly", 0.11), ("Cook", 0.11), ("Carter", 0.11), ("Richardson", 0.1), ("Bailey", 0.1),
    ("Collins", 0.1), ("Bell", 0.1), ("Shaw", 0.1), ("Murphy", 0.1), ("Miller", 0.1), ("Cox", 0.1),
    ("Singh", 0.08), ("Begum", 0.06), ("Shah", 0.05), ("Iqbal", 0.04), ("Mahmood", 0.04),
    ("Rahman", 0.04), ("Akhtar", 0.035), ("Kaur", 0.04), ("Malik", 0.035), ("Mohammed", 0.03),
    ("Nowak", 0.02), ("Kowalski", 0.015), ("O'Brien", 0.05), ("McDonald", 0.05), ("Al-Hassan", 0.01),
)
EXTRA_MALE = ("Mohammed", "Muhammad", "Mohammad", "Imran", "Asif", "Tariq", "Zahid", "Shabir",
              "Adil", "Abdul", "Hamid", "Arshad", "Amjad", "Sajid", "Waheed", "Nadeem", "Usman",
              "Bilal", "Aamir", "Kamran", "Omar", "Yusuf", "Ibrahim", "Hassan", "Piotr", "Tomasz",
              "Jon", "Steven", "Stephen", "Jonathan", "Johnny", "Danny", "Kieran", "Connor", "Liam")
EXTRA_FEMALE = ("Fatima", "Ayesha", "Aisha", "Zainab", "Nadia", "Sana", "Amina", "Shazia", "Anna",
                "Katarzyna", "Catherine", "Katherine", "Kathryn", "Leanne", "Chantelle", "Jade",
                "Kayleigh", "Shannon", "Chloe", "Megan", "Courtney", "Stephanie")
STREET_SUFFIXES = ("Road", "Street", "Lane", "Avenue", "Close", "Drive", "Way", "Crescent",
                   "Grove", "Terrace", "Gardens", "Place", "Court", "Walk", "Mews", "Rise", "View")
VARIANT_KEYS = ("name_variant", "typo", "middle_missing", "middle_extra", "name_swap",
                "dob_swap", "dob_missing", "moved")


def _zipf_cum(n: int, s: float = 1.0, q: float = 3.0) -> list[float]:
    return list(accumulate(1.0 / (i + q) ** s for i in range(n)))


def _unique(seq) -> list[str]:
    out, seen = [], set()
    for x in seq:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


class NamePools:
    """Names drawn from Faker once per run; weighted samplers over them (``random.Random``)."""

    def __init__(self, seed: int, variants: dict[str, list[str]]):
        from faker import Faker      # here: the list-rendering process never needs it

        fk = Faker("en_GB")
        fk.seed_instance(seed)
        self.male = _unique([fk.first_name_male() for _ in range(700)] + list(EXTRA_MALE))
        self.female = _unique([fk.first_name_female() for _ in range(700)] + list(EXTRA_FEMALE))
        tail = _unique(fk.last_name() for _ in range(4000))
        head = [s for s, _ in COMMON_SURNAMES]
        tail = [s for s in tail if s not in set(head)]
        head_mass = sum(w for _, w in COMMON_SURNAMES)
        zt = [1.0 / (i + 20) for i in range(len(tail))]
        scale = (100.0 - head_mass) / 100.0 * 0.35 / sum(zt)   # the rest: rarer names (see below)
        weights = [w / 100.0 for _, w in COMMON_SURNAMES] + [z * scale for z in zt]
        # a long tail of rarer surnames, so that distinct people rarely collide by chance:
        # double-barrelled names and the surnames of other communities (Irish, South Asian,
        # Polish: Faker's en_IE, en_IN and pl_PL providers)
        others = []
        for loc in ("en_IE", "en_IN", "pl_PL"):
            fo = Faker(loc)
            fo.seed_instance(seed)
            others += [fo.last_name() for _ in range(600)]
        pairs = zip(fk.random_elements(tail, 1500), fk.random_elements(tail, 1500))
        rare = _unique([f"{a}-{b}" for a, b in pairs if a != b] + others)
        rare = [x for x in rare if x not in set(head) and x not in set(tail)]
        self.surnames = head + tail + rare
        rest = 1.0 - sum(weights)
        weights += [rest / len(rare)] * len(rare)
        self._sur_cum = list(accumulate(weights))
        self._male_cum = _zipf_cum(len(self.male), 1.0, 4.0)
        self._female_cum = _zipf_cum(len(self.female), 1.0, 4.0)
        self.streets = _unique(f"{fk.last_name()} {fk.random_element(STREET_SUFFIXES)}" for _ in range(1500))
        self.variants = variants

    def forename(self, rng: random.Random, gender: str) -> str:
        if gender == "male":
            return self.male[bisect(self._male_cum, rng.random() * self._male_cum[-1])]
        return self.female[bisect(self._female_cum, rng.random() * self._female_cum[-1])]

    def surname(self, rng: random.Random) -> str:
        return self.surnames[min(len(self.surnames) - 1, bisect(self._sur_cum, rng.random() * self._sur_cum[-1]))]

    def street(self, rng: random.Random) -> str:
        return self.streets[int(rng.random() * len(self.streets))]

    def variant_of(self, rng: random.Random, forename: str) -> str | None:
        alts = self.variants.get(forename.lower())
        if not alts:
            return None
        return alts[int(rng.random() * len(alts))].capitalize()


@dataclass(slots=True)
class Person:
    """A defendant.  ``addr_version`` > 0 once the person has moved since their first case."""
    pid: str
    fore: str
    middle: str | None
    sur: str
    gender: str
    dob: date
    town: object | None         # reference.Town (None: no fixed abode)
    house: int
    street: str
    postcode: str
    asn: str
    pnc: str
    addr_version: int = 0
    youth: bool = False
    n_cases: int = 1            # this is the person's n-th case (each case holds its own copy)
    addr_cache: dict | None = None   # the list address block (lists.py)


@dataclass(slots=True)
class Victim:
    vid: str
    fore: str
    sur: str
    gender: str
    dob: date


@dataclass(slots=True)
class Mention:
    fore: str
    middle: str | None
    sur: str
    dob: date | None
    age: int
    flags: tuple            # one Optional[bool] per VARIANT_KEYS


def age_on(dob: date, on: date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


_VOWELS = "aeiou"


def _typo(rng: random.Random, s: str) -> str:
    if len(s) < 3:
        return s + s[-1]
    i = 1 + int(rng.random() * (len(s) - 2))
    op = int(rng.random() * 4)
    if op == 0:                                   # swap two neighbours
        return s[:i] + s[i + 1] + s[i] + s[i + 2:] if s[i] != s[i + 1] else s[:i] + s[i + 1:]
    if op == 1:                                   # drop a letter
        return s[:i] + s[i + 1:]
    if op == 2:                                   # double a letter
        return s[:i] + s[i] + s[i:]
    c = s[i]                                      # change a vowel / consonant
    rep = _VOWELS[(int(rng.random() * 4) + 1 + _VOWELS.find(c.lower())) % 5] if c.lower() in _VOWELS else "y" if c != "y" else "i"
    return s[:i] + rep + s[i + 1:]


def render_person(rng: random.Random, pools: NamePools, p: Person, on: date, rates: VariantRates,
                  *, with_dob: bool) -> Mention:
    """How one list shows person ``p`` on date ``on``: variants drawn per mention (independent
    Bernoulli draws at the configured rates, among mentions where each can apply)."""
    r = rng.random
    fore, middle, sur = p.fore, p.middle, p.sur
    alt = pools.variants.get(fore.lower())
    if alt:
        f_var = r() < rates.name_variant
        if f_var:
            fore = alt[int(r() * len(alt))].capitalize()
    else:
        f_var = None
    f_typo = r() < rates.typo
    if f_typo:
        if r() < 0.5:
            sur = _typo(rng, sur)
        else:
            fore = _typo(rng, fore)
    if middle is not None:
        f_mx = None
        f_mm = r() < rates.middle_missing
        if f_mm:
            middle = None
    else:
        f_mm = None
        f_mx = r() < rates.middle_extra
        if f_mx:
            middle = pools.forename(rng, p.gender)
    f_swap = r() < rates.name_swap
    if f_swap:
        fore, sur = sur, fore
    dob = f_dswap = f_dmiss = None
    if with_dob:
        f_dmiss = r() < rates.dob_missing
        if not f_dmiss:
            dob = p.dob
            if dob.day <= 12 and dob.day != dob.month:
                f_dswap = r() < rates.dob_swap
                if f_dswap:
                    dob = date(dob.year, dob.day, dob.month)
    b = p.dob
    age = on.year - b.year - ((on.month, on.day) < (b.month, b.day))
    return Mention(fore, middle, sur, dob, age,
                   (f_var, f_typo, f_mm, f_mx, f_swap, f_dswap, f_dmiss,
                    None if p.n_cases <= 1 else p.addr_version > 0))


def random_dob(rng: random.Random, on: date, age_lo: int, age_hi: int) -> date:
    days = int((age_lo + rng.random() * (age_hi - age_lo + 0.999)) * 365.25)
    return on - timedelta(days=days)
