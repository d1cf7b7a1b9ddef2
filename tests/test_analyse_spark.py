"""The same analytics SQL on Spark (transpiled by sqlglot) gives the same inputs and findings as on
DuckDB.  Spark local mode needs Java and takes ~30 s to start here: marked slow."""

from __future__ import annotations

import json
import shutil

import pytest

from courtarchive.analyse import inputs as I
from courtarchive.analyse import run as R

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def spark_engine():
    pytest.importorskip("pyspark", reason="pyspark is not installed (uv sync --group dev)")
    if shutil.which("java") is None:
        pytest.skip("no java on PATH: Spark local mode cannot start")
    from courtarchive.analyse.engine import SparkEngine

    eng = SparkEngine()
    yield eng
    eng.close()


def _same(a, b, cols_sort):
    a = a.select(sorted(a.columns)).sort(cols_sort)
    b = b.select(sorted(a.columns)).sort(cols_sort)
    return a.equals(b)


def test_spark_equals_duckdb(spark_engine, tmp_path):
    from test_analyse import corpus

    raw, ids = corpus()
    duck = I.build_inputs(raw, ids=ids, mode="linkage", engine="duckdb")
    spark = I.build_inputs(raw, ids=ids, mode="linkage", engine=spark_engine)
    assert spark.engine == "spark"
    for name, key in (("cases", ["case_id"]), ("case_defendants", ["case_id", "defendant_id"]),
                      ("case_offences", ["case_id", "defendant_id", "offence_code"]),
                      ("offence_complainants", ["case_id", "defendant_id", "complainant_id"])):
        assert _same(getattr(duck.inputs, name), getattr(spark.inputs, name), key), name
    assert (duck.hearings, duck.hearing_entries, duck.end_date) == (spark.hearings, spark.hearing_entries, spark.end_date)
    for scope in ("all", "child-sexual-abuse"):
        f1, f2 = R.compute(duck, scope=scope), R.compute(spark, scope=scope)
        for f in (f1, f2):
            f.pop("timings"), f.pop("engine")
        assert json.dumps(f1, default=str, sort_keys=True) == json.dumps(f2, default=str, sort_keys=True)


def test_spark_on_generated_corpus(spark_engine, tmp_path):
    gen = pytest.importorskip("courtarchive.generate")
    from courtarchive.governance.pseudonym import Keyring
    from courtarchive.ingest.pipeline import ingest
    from courtarchive.store import Archive

    gen.generate(tmp_path / "g", cases=150, seed=3, years=1)
    a = Archive.open(f"sqlite:///{tmp_path / 'a.db'}")
    a.init()
    ingest(a, [tmp_path / "g" / "lists"], keyring=Keyring(bytes(range(32))))
    d1 = I.from_archive(a, oracle=tmp_path / "g" / "truth.json", engine="duckdb")
    d2 = I.from_archive(a, oracle=tmp_path / "g" / "truth.json", engine=spark_engine)
    a.close()
    for scope in ("all", "child-sexual-abuse"):
        f1, f2 = R.compute(d1, scope=scope), R.compute(d2, scope=scope)
        for f in (f1, f2):
            f.pop("timings"), f.pop("engine")
        assert json.dumps(f1, default=str, sort_keys=True) == json.dumps(f2, default=str, sort_keys=True)


def test_created_tables_hold_rows_not_the_plans_before_them(spark_engine):
    """Each derived table is kept as its rows (a local checkpoint): the next statement is planned
    against them alone, not against every statement before it (with cache() the plan of `cases`
    held all seventeen others, and planning dominated); close() drops the views and the rows."""
    import pyarrow as pa

    eng = spark_engine
    spark = eng.spark
    sc = spark.sparkContext._jsc.sc()
    kept_before = len(sc.getRDDStorageInfo())
    eng.register("t_raw", pa.table({"k": [1, 2, 2, 3], "v": ["a", "b", "c", "d"]}))
    eng.create("t_one", "SELECT k, count(*) AS n FROM t_raw GROUP BY k")
    eng.create("t_two", "SELECT o.k, o.n, r.v FROM t_one o JOIN t_raw r ON r.k = o.k WHERE o.n > 1")
    eng.create("t_three", "SELECT k, max(v) AS v FROM t_two GROUP BY k")
    assert eng.fetch("SELECT * FROM t_three").to_pylist() == [{"k": 2, "v": "c"}]
    plan = spark.table("t_three")._jdf.queryExecution().optimizedPlan().toString()
    for upstream in ("Join", "Aggregate", "t_raw", "t_one", "t_two"):
        assert upstream not in plan, plan
    assert len(sc.getRDDStorageInfo()) >= kept_before + 3        # the three tables' rows, kept
    eng.close()
    assert not any(spark.catalog.tableExists(t) for t in ("t_raw", "t_one", "t_two", "t_three"))
    assert len(sc.getRDDStorageInfo()) <= kept_before             # and freed


def test_tables_come_in_at_most_two_partitions_per_core(spark_engine):
    """A large Arrow table (here 60 MB) arrives as one partition per 10,000 rows, and a statement
    over it keeps them: every scan then ran a task per 10,000 rows.  Registered and derived tables
    are narrowed to two partitions per core (no shuffle), with every row kept."""
    import pyarrow as pa

    eng = spark_engine
    most = 2 * eng.spark.sparkContext.defaultParallelism
    eng.register("t_wide", pa.table({"k": list(range(60_000)), "s": ["x" * 1000] * 60_000}))
    eng.create("t_odd", "SELECT k, s FROM t_wide WHERE k % 2 = 1")
    try:
        for name in ("t_wide", "t_odd"):
            plan = eng.spark.table(name)._jdf.queryExecution().executedPlan()
            assert plan.execute().getNumPartitions() <= most, name
        assert eng.fetch("SELECT count(*) AS n, sum(k) AS s FROM t_odd").to_pylist() == [
            {"n": 30_000, "s": 30_000 ** 2}]
    finally:
        eng.close()
