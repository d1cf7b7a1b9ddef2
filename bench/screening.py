"""Bulk name screening benchmark (issue 10): 1,000 names against an archive of 1M people.

    uv run python bench/screening.py [--people 1000000] [--names 1000] [--seed 11]

The archive side is `link.synthetic.mentions` (the generator's variant rates: nicknames, typos,
swapped names, missing DOBs, moves), standardised once and cached in
bench/out/screening-<people>.parquet (`link.screen.standardise_candidates`, as for a real archive).
The screening list holds ``--names`` rows: 90% are people in the archive, each one of their
listings re-typed as a newsroom list would have it (a typo 10%, a nickname or spelling variant
10%, forename and surname swapped 3%; no date of birth 50%, no address 33%, middle names dropped
50%); 10% are people who are not in the archive.  Scored with the shipped
default model (the same one a new archive links with).  Prints recall (a planted person among the
row's candidates), precision of the top candidate, rows with a false top candidate among the
absent names, and the time of `screen` alone (cold: includes Splink's set-up) -- target ≤ 10 s,
recall ≥ 0.98.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from pathlib import Path

import polars as pl
import psutil

from courtarchive.link import model as M
from courtarchive.link import screen as S
from courtarchive.link import synthetic

OUT = Path(__file__).resolve().parent / "out"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=1_000_000)
    ap.add_argument("--names", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--threshold", type=float, default=S.DEFAULT_THRESHOLD)
    ap.add_argument("--top", type=int, default=S.DEFAULT_TOP)
    a = ap.parse_args()

    OUT.mkdir(parents=True, exist_ok=True)
    cache = OUT / f"screening-{a.people}.parquet"
    raw_cache = OUT / f"screening-{a.people}-mentions.parquet"
    t0 = time.perf_counter()
    if not cache.exists():
        m = pl.from_arrow(synthetic.mentions(int(a.people * 3.75), seed=a.seed))   # ~2/3 of drawn people appear
        assign = m.select(pl.col("party_id").alias("mention_id"), pl.col("true_id").alias("person_id"))
        cand = S.standardise_candidates(m.drop("true_id").to_arrow(), assign.to_arrow())
        cand.write_parquet(cache)
        m.filter(pl.col("party_id").is_in(cand["unique_id"].implode())).write_parquet(raw_cache)
    cand = pl.read_parquet(cache)
    raw = pl.read_parquet(raw_cache)
    prep = time.perf_counter() - t0
    people = cand["person_id"].n_unique()

    # the screening list: 90% people in the archive, each as one of their listings re-typed the way
    # a newsroom's list would have it: a typo (10%), a nickname/variant (10%), swapped order (3%),
    # no date of birth (50%), no address (33%)
    rng_seed = a.seed + 1
    pick = cand.select("person_id").unique().sample(int(a.names * 0.9), seed=rng_seed)["person_id"]
    chosen = (raw.filter(pl.col("true_id").is_in(pick.implode()) & (pl.col("forenames").str.len_chars() > 1))
              .sample(fraction=1.0, shuffle=True, seed=rng_seed).unique("true_id", keep="first"))
    n_in = chosen.height
    import random

    rnd = random.Random(rng_seed)
    variants = {}
    from courtarchive.governance.pseudonym import load_name_variants

    for v, c in load_name_variants().items():
        variants.setdefault(c.title(), []).append(v.title())
        variants.setdefault(v.title(), []).append(c.title())
    recs = []
    for i, r in enumerate(chosen.iter_rows(named=True)):
        fn, sn = r["forenames"], r["surname"]
        u = rnd.random()
        if u < 0.10 and sn and len(sn) > 3:
            j = rnd.randrange(1, len(sn) - 1)
            sn = sn[:j] + sn[j + 1] + sn[j] + sn[j + 2:]
        elif u < 0.20 and fn in variants:
            fn = rnd.choice(variants[fn])
        elif u < 0.23:
            fn, sn = sn, fn
        recs.append({"row": i + 2, "forenames": fn, "middle_names": r["middle_names"] if rnd.random() < 0.5 else None,
                     "surname": sn, "name_as_listed": None,
                     "date_of_birth": r["date_of_birth"] if rnd.random() < 0.5 else None,
                     "town": r["town"] if rnd.random() < 0.67 else None,
                     "postcode": r["postcode"] if rnd.random() < 0.67 else None, "truth": r["true_id"]})
    present = pl.DataFrame(recs, schema={"row": pl.Int64, "forenames": pl.Utf8, "middle_names": pl.Utf8,
                                         "surname": pl.Utf8, "name_as_listed": pl.Utf8, "date_of_birth": pl.Date,
                                         "town": pl.Utf8, "postcode": pl.Utf8, "truth": pl.Int64})
    cand_s = cand
    # absent people: another synthetic population (different seed), not in the archive
    other = (pl.from_arrow(synthetic.mentions(int((a.names - n_in) * 10), seed=a.seed + 99))
             .filter(pl.col("forenames").str.len_chars() > 1).unique("true_id").head(a.names - n_in))
    absent = other.select((pl.int_range(pl.len()) + 2 + n_in).alias("row"), "forenames", "middle_names", "surname",
                          "name_as_listed", "date_of_birth", "town", "postcode",
                          pl.lit(None, pl.Int64).alias("truth"))
    rows = pl.concat([present, absent.cast(present.schema)])
    truth = dict(zip(rows["row"].to_list(), rows["truth"].to_list()))

    model_json = M.default_model(cand_s.height)
    proc = psutil.Process()
    t1 = time.perf_counter()
    res = S.screen(rows.drop("truth"), cand_s, model_json, threshold=a.threshold, top=a.top)
    secs = time.perf_counter() - t1
    t2 = time.perf_counter()
    S.screen(rows.drop("truth"), cand_s, model_json, threshold=a.threshold, top=a.top)
    warm = time.perf_counter() - t2

    found = {(r, p) for r, p in zip(res["row"].to_list(), res["person_id"].to_list())}
    hits = sum(1 for r, t in truth.items() if t is not None and (r, t) in found)
    top1 = res.filter(pl.col("rank") == 1)
    first = {(r, p) for r, p in zip(top1["row"].to_list(), top1["person_id"].to_list())}
    top1_ok = sum(1 for r, t in truth.items() if t is not None and (r, t) in first)
    absent_rows = {r for r, t in truth.items() if t is None}
    if os.environ.get("SCREEN_DEBUG"):
        _debug_misses(rows, res, truth, cand)
    false_absent = len(absent_rows & set(top1["row"].to_list()))
    print(f"machine: {platform.node()}, {os.cpu_count()} cpu, {psutil.virtual_memory().total / 2**30:.0f} GiB; "
          f"{dt.date.today()}; load {os.getloadavg()[0]:.1f}")
    print(f"archive: {people:,} people, {cand_s.height:,} distinct listings (prep {prep:.0f} s, cached)")
    print(f"names screened: {rows.height:,} ({n_in} present, {rows.height - n_in} absent); "
          f"threshold {a.threshold}, top {a.top}")
    print(f"screen: {secs:.2f} s cold, {warm:.2f} s warm; peak RSS {proc.memory_info().rss / 2**30:.2f} GiB")
    print(f"recall (planted person among candidates): {hits / max(n_in, 1):.4f} ({hits}/{n_in})")
    print(f"planted person ranked first (ties share a rank): {top1_ok / max(n_in, 1):.4f}; "
          f"absent names with a candidate: {false_absent}/{len(absent_rows)} (name-only rows match namesakes)")


def _debug_misses(rows, res, truth, cand):
    found = {(r, p) for r, p in zip(res["row"].to_list(), res["person_id"].to_list())}
    miss = [r for r, t in truth.items() if t is not None and (r, t) not in found]
    for r in miss[:15]:
        q = rows.filter(pl.col("row") == r).to_dicts()[0]
        others = cand.filter(pl.col("person_id") == truth[r]).select("fn", "mn", "sn", "dob", "pc").to_dicts()
        got = res.filter(pl.col("row") == r).select("person_id", "match_weight").to_dicts()
        print("ROW", {k: q[k] for k in ("forenames", "middle_names", "surname", "name_as_listed", "date_of_birth")}, "->", others[:3], "GOT", got[:4])


if __name__ == "__main__":
    main()
