"""Synthetic defendant mentions with known truth, for tests and the linkage benchmark.

`mentions(n_mentions, seed)` builds, directly as an Arrow table shaped like
`store.linkage.defendant_mentions` (plus ``true_id``), mentions of people drawn with realistic name
frequencies (a head of common England & Wales surnames, Faker en_GB tails) and per-mention variants
at the generator's default rates (`generate.config.VariantRates`): forename spelling variant /
nickname from the shared variant table, one-letter typos, middle name dropped or added, forename
and surname swapped, day/month of birth swapped, date of birth missing (age only), moved address.
Mentions come in cases (consecutive hearings of one case share ``case_id``; ``hearings_per_case``
on average); every hearing is on a standard list and a share of them (``public_list``) also on
a public list, which gives the name only -- no DOB, age, address or ids; a few people have a sibling (same surname and address) who is their
co-defendant in their first case.  It does not need the store, so a million mentions take a
minute.
"""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pyarrow as pa

from ..governance.pseudonym import load_name_variants

__all__ = ["mentions", "RATES"]

RATES = dict(name_variant=0.08, typo=0.02, middle_missing=0.15, middle_extra=0.02, name_swap=0.01,
             dob_swap=0.03, dob_missing=0.06, moved=0.35, asn=0.5, pnc=0.3, public_list=0.5,
             hearings_per_case=2.5, sibling=0.04)

_COMMON = ("Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas",
           "Johnson", "Roberts", "Khan", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards",
           "Hughes", "Green", "Hall", "Ali", "Lewis", "Harris", "Clarke", "Patel", "Hussain", "Jackson",
           "Wood", "Turner", "Martin", "Cooper", "Hill", "Ahmed", "Ward", "Morris", "Moore", "Clark")


def _typo(rng: random.Random, s: str) -> str:
    if len(s) < 3:
        return s + s[-1]
    i = 1 + rng.randrange(len(s) - 2)
    op = rng.randrange(4)
    if op == 0:
        return s[:i] + s[i + 1] + s[i] + s[i + 2:]
    if op == 1:
        return s[:i] + s[i + 1:]
    if op == 2:
        return s[:i] + s[i] + s[i:]
    return s[:i] + ("e" if s[i] != "e" else "a") + s[i + 1:]


def _pc(rng: random.Random, outward: str) -> str:
    return f"{outward} {rng.randrange(10)}{chr(65 + rng.randrange(26))}{chr(65 + rng.randrange(26))}"


def _pools(seed: int):
    from faker import Faker

    fk = Faker("en_GB")
    fk.seed_instance(seed)
    male = sorted({fk.first_name_male() for _ in range(3000)} | {"Mohammed", "Muhammad", "Stephen", "Steven"})
    female = sorted({fk.first_name_female() for _ in range(3000)} | {"Catherine", "Katherine", "Fatima"})
    tail = sorted({fk.last_name() for _ in range(20000)} - set(_COMMON))
    rnd = random.Random(seed)
    rare = sorted({f"{rnd.choice(tail)}-{rnd.choice(tail)}" for _ in range(6000)}
                  | {f"{rnd.choice(tail)}{s}" for s in ("son", "er", "ley", "ton") for _ in range(3000)})
    streets = sorted({f"{fk.last_name()} {fk.random_element(('Road', 'Street', 'Lane', 'Close'))}" for _ in range(3000)})
    return male, female, list(_COMMON), tail, rare, streets


def mentions(n_mentions: int, seed: int = 7, *, mean_mentions: float = 2.5, rates: dict | None = None,
             start: dt.date = dt.date(2016, 1, 1), years: int = 9) -> pa.Table:
    """About ``n_mentions`` synthetic defendant mentions with a ``true_id`` column."""
    r = {**RATES, **(rates or {})}
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    male, female, common, tail, rare, streets = _pools(seed)
    variants: dict[str, list[str]] = {}
    for v, c in load_name_variants().items():
        variants.setdefault(c, []).append(v)
        variants.setdefault(v, []).append(c)
    n_people = max(1, int(n_mentions / mean_mentions))
    # name frequencies: Zipf-like ranks
    def zipf_pick(pool, n, q):
        w = 1.0 / (np.arange(len(pool)) + q)
        return nrng.choice(len(pool), size=n, p=w / w.sum())
    gender = nrng.random(n_people) < 0.8
    fm, ff = zipf_pick(male, n_people, 4.0), zipf_pick(female, n_people, 4.0)
    kind = nrng.random(n_people)
    sc, st, sr = zipf_pick(common, n_people, 3.0), zipf_pick(tail, n_people, 20.0), nrng.integers(0, len(rare), n_people)
    has_mid = nrng.random(n_people) < 0.4
    mm, mf = zipf_pick(male, n_people, 4.0), zipf_pick(female, n_people, 4.0)
    outwards = [f"{a}{b}" for a in ("M", "L", "B", "LS", "S", "NE", "CF", "PR", "BD", "SE", "E", "N", "W", "NG",
                                    "LE", "CV", "ST", "WV", "DY", "BL", "OL", "SK", "WA", "CH", "HU", "YO")
                for b in range(1, 40)]
    people = []
    span = years * 365
    for i in range(n_people):
        g = bool(gender[i])
        fore = male[fm[i]] if g else female[ff[i]]
        sur = common[sc[i]] if kind[i] < 0.1 else tail[st[i]] if kind[i] < 0.7 else rare[sr[i]]
        mid = (male[mm[i]] if g else female[mf[i]]) if has_mid[i] else None
        age0 = 18 + int(nrng.integers(0, 50))
        dob = start + dt.timedelta(days=int(nrng.integers(0, span))) - dt.timedelta(days=int(age0 * 365.25))
        o = rng.choice(outwards)
        sib = bool(people) and rng.random() < r["sibling"]
        if sib:
            sur = people[-1][2]
        people.append([fore, mid, sur, dob, _pc(rng, o) if not sib else people[-1][4],
                       "Town" + o.rstrip("0123456789") if not sib else people[-1][5],
                       f"ASN{rng.randrange(10**10):010d}", f"PNC{rng.randrange(10**8):08d}" if rng.random() < r["pnc"] else None,
                       sib])
    counts = 1 + nrng.geometric(1.0 / mean_mentions, size=n_people) - 1
    counts = np.maximum(counts, 1)
    cols: dict[str, list] = {k: [] for k in ("party_id", "case_id", "hearing_id", "publication_id",
                                             "sitting_date", "court_id", "forenames", "middle_names", "surname",
                                             "organisation_name", "name_as_listed", "date_of_birth", "age",
                                             "gender", "town", "postcode", "asn", "pnc_id", "true_id")}
    pid = 0
    case_no = 0
    first_case: dict[int, tuple[int, dt.date]] = {}
    for i, p in enumerate(people):
        fore0, mid0, sur0, dob0, pc0, town0, asn0, pnc, sib = p
        dates = sorted(start + dt.timedelta(days=int(x)) for x in nrng.integers(0, span, int(counts[i])))
        case = None
        for j, d in enumerate(dates):
            if case is None or rng.random() < 1.0 / r["hearings_per_case"]:
                case_no += 1
                case = case_no
                if j == 0 and sib and (i - 1) in first_case:
                    case = first_case[i - 1][0]
                first_case.setdefault(i, (case, d))
            if j > 0 and rng.random() < r["moved"]:
                o = rng.choice(outwards)
                p[4], p[5] = _pc(rng, o), "Town" + o.rstrip("0123456789")
                pc0, town0 = p[4], p[5]
            age = d.year - dob0.year - ((d.month, d.day) < (dob0.month, dob0.day))
            # a hearing is on the standard list and, sometimes, also on the public list (name only)
            for public in ((False, True) if rng.random() < r["public_list"] else (False,)):
                if len(cols["party_id"]) >= n_mentions:
                    break
                pid += 1
                fore, mid, sur = fore0, mid0, sur0
                alts = variants.get(fore.lower())
                if alts and rng.random() < r["name_variant"]:
                    fore = rng.choice(alts).capitalize()
                if rng.random() < r["typo"]:
                    if rng.random() < 0.5:
                        sur = _typo(rng, sur)
                    else:
                        fore = _typo(rng, fore)
                if mid is not None and rng.random() < r["middle_missing"]:
                    mid = None
                elif mid is None and rng.random() < r["middle_extra"]:
                    mid = rng.choice(male if rng.random() < 0.8 else female)
                if rng.random() < r["name_swap"]:
                    fore, sur = sur, fore
                dob = None if rng.random() < r["dob_missing"] else dob0
                if dob is not None and dob.day <= 12 and dob.day != dob.month and rng.random() < r["dob_swap"]:
                    dob = dt.date(dob.year, dob.day, dob.month)
                if public:
                    mid, dob, pcx, townx, asnx, pncx, agex = None, None, None, None, None, None, None
                else:
                    pcx, townx, asnx, pncx, agex = pc0, town0, asn0 if rng.random() < r["asn"] else None, pnc, age
                for k, v in (("party_id", pid), ("case_id", case), ("hearing_id", pid), ("publication_id", 1),
                             ("sitting_date", d), ("court_id", 1), ("forenames", fore), ("middle_names", mid),
                             ("surname", sur.upper()), ("organisation_name", None), ("name_as_listed", None),
                             ("date_of_birth", dob), ("age", agex), ("gender", None), ("town", townx),
                             ("postcode", pcx), ("asn", asnx), ("pnc_id", pncx), ("true_id", i)):
                    cols[k].append(v)
    types = {"sitting_date": pa.date32(), "date_of_birth": pa.date32()}
    return pa.table({k: pa.array(v, type=types.get(k, pa.int64() if k in (
        "party_id", "case_id", "hearing_id", "publication_id", "court_id", "age", "true_id") else pa.string()))
        for k, v in cols.items()})
