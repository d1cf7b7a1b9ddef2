"""Defendant linkage at scale: our model vs a plain Splink 5 baseline on the same 1M mentions.

    uv run python bench/linkage.py [--mentions 1000000] [--skip-plain] [--json]

Mentions are synthetic (`courtarchive.link.synthetic`: realistic name frequencies, the generator's
variant rates), built once and cached as Parquet in bench/out/ (generation is not timed).  Each
model runs in its own child process; wall time covers standardising, training, scoring and
clustering; peak RSS is the child's process tree, sampled every 50 ms.  F1 is pairwise over
mentions after clustering at match probability 0.9 (both models), against the synthetic truth.

* **ours**: `courtarchive.link` as `link run --full` uses it -- standardise, `model.train`,
  `Model.predict` with our blocking rules, `cluster.cluster` (Splink's
  ``cluster_pairwise_predictions_at_threshold``, then DOB-conflict splitting).
* **plain**: a plain Splink 5 dedupe (library NameComparison on forename and surname,
  DateOfBirthComparison, exact postcode and town; blocking on forename + surname), as measured
  in MEASURED.md (226 s / 8.1 GB there at 1M).
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import os
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
THRESHOLD = 0.9


def data(n: int) -> Path:
    path = OUT / f"linkage-{n}.parquet"
    if not path.exists():
        import pyarrow.parquet as pq

        from courtarchive.link import synthetic

        OUT.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        pq.write_table(synthetic.mentions(n, seed=2024), path)
        print(f"generated {n:,} mentions in {time.perf_counter() - t0:.0f} s -> {path}", file=sys.stderr)
    return path


def _quiet():
    for name in ("splink", "py4j"):
        logging.getLogger(name).setLevel(logging.ERROR)


def ours(path: str) -> dict:
    import polars as pl
    import pyarrow.parquet as pq

    from courtarchive.link import model as M
    from courtarchive.link.cluster import cluster, dob_conflicts
    from courtarchive.link.standardise import standardise

    _quiet()
    t = pq.read_table(path)
    truth = t.select(["party_id", "true_id"])
    t0 = time.perf_counter()
    std = standardise(t.drop(["true_id"]))
    t1 = time.perf_counter()
    model = M.train(std)
    t2 = time.perf_counter()
    pairs = model.predict(threshold=THRESHOLD)
    t3 = time.perf_counter()
    lab = cluster(std["unique_id"].to_pylist(), pairs, threshold=THRESHOLD, db_api=model.db,
                  conflicts=dob_conflicts(pl.from_arrow(std)))
    t4 = time.perf_counter()
    j = lab.join(pl.from_arrow(truth).rename({"party_id": "mention_id"}), on="mention_id")
    from courtarchive.link.evaluate import metrics

    return {"seconds": round(t4 - t0, 1), "phases": {"standardise": round(t1 - t0, 1), "train": round(t2 - t1, 1),
                                                     "predict": round(t3 - t2, 1), "cluster": round(t4 - t3, 1)},
            "pairs": pairs.num_rows, "metrics": metrics(j["label"], j["true_id"])}


def plain(path: str) -> dict:
    import polars as pl
    import pyarrow.parquet as pq

    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on

    from courtarchive.link import model as M
    from courtarchive.link.evaluate import metrics

    _quiet()
    t = pl.from_arrow(pq.read_table(path))
    t0 = time.perf_counter()
    df = t.select(pl.col("party_id").alias("unique_id"), pl.col("forenames").str.to_lowercase().alias("first_name"),
                  pl.col("surname").str.to_lowercase().alias("surname"),
                  pl.col("date_of_birth").dt.strftime("%Y-%m-%d").alias("dob"),
                  pl.col("postcode").alias("postcode"), pl.col("town").alias("town"))
    settings = SettingsCreator(
        link_type="dedupe_only", unique_id_column_name="unique_id",
        comparisons=[cl.NameComparison("first_name"), cl.NameComparison("surname"),
                     cl.DateOfBirthComparison("dob", input_is_string=True), cl.ExactMatch("postcode"),
                     cl.ExactMatch("town")],
        blocking_rules_to_generate_predictions=[block_on("first_name", "surname")])
    db = M.db_api("duckdb")
    linker = Linker(db.register(df.to_arrow()), settings, log_level=logging.ERROR)
    tr = linker.training
    tr.estimate_probability_two_random_records_match([block_on("first_name", "surname", "dob")], recall=0.7)
    tr.estimate_u_using_random_sampling(max_pairs=1e7, seed=42)
    tr.estimate_parameters_using_expectation_maximisation(block_on("dob"), max_pairs=2e6)
    tr.estimate_parameters_using_expectation_maximisation(block_on("first_name", "surname"), max_pairs=2e6)
    pred = linker.inference.predict(threshold_match_probability=THRESHOLD, warning_mode="never")
    cl_df = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, threshold_match_probability=THRESHOLD)
    lab = pl.from_arrow(cl_df.as_pyarrow_table().select(["unique_id", "cluster_id"]))
    secs = time.perf_counter() - t0
    j = lab.join(t.select(pl.col("party_id").alias("unique_id"), "true_id"), on="unique_id")
    return {"seconds": round(secs, 1), "metrics": metrics(j["cluster_id"], j["true_id"])}


def _child(fn_name: str, path: str, q) -> None:
    q.put(globals()[fn_name](path))


def measured(fn_name: str, path: Path) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(fn_name, str(path), q))
    p.start()
    peak = [0]
    done = threading.Event()

    def sample():
        proc = psutil.Process(p.pid)
        while not done.is_set():
            try:
                rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
                peak[0] = max(peak[0], rss)
            except psutil.Error:
                pass
            time.sleep(0.05)
    th = threading.Thread(target=sample, daemon=True)
    th.start()
    res = q.get()
    p.join()
    done.set()
    res["peak_rss_gib"] = round(peak[0] / 2**30, 2)
    return res


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mentions", type=int, default=1_000_000)
    ap.add_argument("--skip-plain", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    path = data(args.mentions)
    res = {"mentions": args.mentions, "cpus": os.cpu_count(), "ours": measured("ours", path)}
    if not args.skip_plain:
        res["plain"] = measured("plain", path)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print("| model | mentions | seconds | peak RSS GiB | pairwise P | pairwise R | pairwise F1 | B3 F1 |")
        print("|---|---|---|---|---|---|---|---|")
        for k in ("ours", "plain"):
            if k in res:
                r, m = res[k], res[k]["metrics"]
                print(f"| {k} | {args.mentions:,} | {r['seconds']} | {r['peak_rss_gib']} | {m['pairwise']['precision']:.4f} | "
                      f"{m['pairwise']['recall']:.4f} | {m['pairwise']['f1']:.4f} | {m['bcubed']['f1']:.4f} |")
        if "phases" in res["ours"]:
            print(f"ours phases: {res['ours']['phases']}, pairs above threshold {res['ours']['pairs']:,}", file=sys.stderr)
    return res


if __name__ == "__main__":
    main(sys.argv[1:])
