"""Linkage against Splink's own time on the same data (issue 9: "linkage at 1M within 2x Splink's
own time").

    COURTARCHIVE_HOME=bench/out/scale-home-embedded-1000000 \
        uv run python bench/link_overhead.py [--runs 1]

Needs an ingested archive (`bench/scale.py --entries 1000000 --keep` leaves one).  Two child
processes, run one after the other on the same archive:

* **courtarchive**: `courtarchive link run --full --json` -- everything the link stage does: read
  the mentions from the store, standardise, train and score with Splink, cluster with the
  reviewers' and date-of-birth constraints, masked and orphan mentions, stable person ids, the
  review queue, complainants, networks, and writing all of it back.
* **Splink alone**: the same standardised person mentions handed to Splink with the same settings
  and blocking rules: `train` (prior, u by sampling, EM), `predict` at the review band's floor and
  Splink's `cluster_pairwise_predictions_at_threshold` at the match threshold.  Reading the store
  and standardising are done first and not timed: they are the input Splink is given.

Prints both wall times, their ratio and peak RSS; figures go into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys

import psutil

from scale import run_measured          # bench/scale.py: a child process, its wall time and peak RSS

SPLINK_ALONE = r"""
import json, time, logging
import polars as pl, pyarrow as pa
from courtarchive.store import Archive
from courtarchive.store import linkage as S
from courtarchive.link.standardise import standardise
from courtarchive.link import model as M
from splink.clustering import cluster_pairwise_predictions_at_threshold

std = pl.from_arrow(standardise(S.defendant_mentions(Archive.open())))
persons = std.filter(pl.col("fn").is_not_null() | pl.col("sn").is_not_null()).to_arrow()
t0 = time.perf_counter()
model = M.train(persons, engine="duckdb", seed=42)
t1 = time.perf_counter()
df = model.linker.inference.predict(threshold_match_probability=M.REVIEW_BAND[0], warning_mode="never")
t2 = time.perf_counter()
cl = model.linker.clustering.cluster_pairwise_predictions_at_threshold(df, threshold_match_probability=M.MATCH_THRESHOLD)
n_clusters = cl.as_duckdbpyrelation().aggregate("count(distinct cluster_id)").fetchall()[0][0]
t3 = time.perf_counter()
print(json.dumps({"mentions": persons.num_rows, "train_s": round(t1 - t0, 1), "predict_s": round(t2 - t1, 1),
                  "cluster_s": round(t3 - t2, 1), "splink_s": round(t3 - t0, 1), "clusters": n_clusters}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=1)
    a = ap.parse_args()
    if not os.environ.get("COURTARCHIVE_HOME") and not os.environ.get("COURTARCHIVE_DB"):
        raise SystemExit("set COURTARCHIVE_HOME (or COURTARCHIVE_DB) to an ingested archive")
    py = sys.executable
    print(f"machine: {platform.node()}, {os.cpu_count()} cpu, {psutil.virtual_memory().total / 2**30:.0f} GiB; "
          f"load {os.getloadavg()[0]:.1f}")
    for run in range(a.runs):
        alone = run_measured([py, "-c", SPLINK_ALONE], dict(os.environ))
        sp = json.loads(alone["stdout"].strip().splitlines()[-1])
        full = run_measured([py, "-m", "courtarchive.serve.cli", "link", "run", "--full", "--json"], dict(os.environ))
        st = json.loads(full["stdout"])
        s_wall, s_rss, c_wall, c_rss = alone["seconds"], alone["peak_rss_gib"], full["seconds"], full["peak_rss_gib"]
        print(f"run {run + 1}: {sp['mentions']:,} person mentions")
        print(f"  Splink alone: {sp['splink_s']} s (train {sp['train_s']}, predict {sp['predict_s']}, "
              f"cluster {sp['cluster_s']}; {sp['clusters']:,} clusters); process {s_wall:.1f} s, peak {s_rss:.2f} GiB")
        print(f"  courtarchive link run --full: {c_wall:.1f} s, peak {c_rss:.2f} GiB "
              f"({st['defendants']['persons']:,} persons)")
        print(f"  ratio (link run / Splink alone): {c_wall / sp['splink_s']:.2f}; load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
