"""The Spark backend runs the same model settings as DuckDB (slow: starts a local Spark)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_spark_engine_same_settings_similar_links():
    pytest.importorskip("pyspark")
    from courtarchive.link import model as M
    from courtarchive.link import synthetic
    from courtarchive.link.cluster import cluster
    from courtarchive.link.evaluate import metrics
    from courtarchive.link.standardise import standardise

    raw = synthetic.mentions(3000, seed=5)
    std = standardise(raw.drop(["true_id"]))
    truth = dict(zip(raw["party_id"].to_pylist(), raw["true_id"].to_pylist()))
    res = {}
    for engine in ("duckdb", "spark"):
        model = M.train(std, engine=engine, allow_default=False)
        pairs = model.predict(threshold=M.MATCH_THRESHOLD)
        lab = cluster(std["unique_id"].to_pylist(), pairs, threshold=M.MATCH_THRESHOLD, db_api=model.db)
        ids = lab["mention_id"].to_list()
        res[engine] = metrics(lab["label"].to_list(), [truth[i] for i in ids])["pairwise"]
    assert res["spark"]["precision"] >= 0.97 and res["spark"]["recall"] >= 0.95, res
    assert abs(res["spark"]["f1"] - res["duckdb"]["f1"]) < 0.02, res
