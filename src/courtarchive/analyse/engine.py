"""Where the analytics SQL runs: DuckDB (embedded, over Arrow) or Spark (national scale).

The SQL is written once, in DuckDB's dialect (``analyse/sql.py``).  `DuckEngine` runs it as is
over Arrow tables registered zero-copy; `SparkEngine` transpiles every statement to Spark SQL with
sqlglot (a Splink dependency) and runs it over the same Arrow inputs (``spark.createDataFrame``).
Both hand results back as Arrow tables, so everything downstream (the definitions, the
statistics, the report) is the same code whichever engine ran.

DuckDB 2.x here cannot load extensions (see shared/MEASURED.md): data moves in and out as Arrow,
never through sqlite_scanner/postgres_scanner.
"""

from __future__ import annotations

import os
from typing import Protocol

import pyarrow as pa

__all__ = ["Engine", "DuckEngine", "SparkEngine", "make_engine", "to_spark_sql", "ENGINES"]

ENGINES = ("duckdb", "spark")


class Engine(Protocol):
    name: str

    def register(self, name: str, table: pa.Table) -> None: ...

    def create(self, name: str, sql: str) -> None: ...

    def fetch(self, sql: str) -> pa.Table: ...

    def close(self) -> None: ...


class DuckEngine:
    """An in-memory DuckDB connection over registered Arrow tables."""

    name = "duckdb"

    def __init__(self, threads: int | None = None):
        from ..config import duckdb_connect

        self.con = duckdb_connect()
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")

    def register(self, name: str, table: pa.Table) -> None:
        self.con.register(name, table)

    def create(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS {sql}")

    def fetch(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()

    def close(self) -> None:
        self.con.close()


def to_spark_sql(sql: str) -> str:
    """One DuckDB-dialect statement in Spark SQL (sqlglot)."""
    import sqlglot

    return sqlglot.transpile(sql, read="duckdb", write="spark")[0]


class SparkEngine:
    """A local (or configured) SparkSession; statements are transpiled from DuckDB SQL."""

    name = "spark"

    def __init__(self, master: str | None = None):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", os.environ.get("PYSPARK_PYTHON") or _python())
        from pyspark.sql import SparkSession

        from ..config import spark_conf

        b = SparkSession.builder.master(master or os.environ.get("COURTARCHIVE_SPARK_MASTER", "local[2]"))
        for k, v in spark_conf("courtarchive-analyse").items():
            b = b.config(k, v)
        self.spark = (b
                      .config("spark.sql.session.timeZone", "UTC")
                      .config("spark.sql.ansi.enabled", "false")
                      .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                      .getOrCreate())
        self.spark.sparkContext.setLogLevel("ERROR")
        self._frames: dict = {}

    def register(self, name: str, table: pa.Table) -> None:
        if table.num_rows == 0:
            from pyspark.sql.pandas.types import from_arrow_schema

            df = self.spark.createDataFrame([], schema=from_arrow_schema(table.schema))
        else:
            # (the raw tables are read as they are: checkpointing them too was slower, 1M
            # entries' derivation 138 -> 172 s)
            df = self._narrow(self.spark.createDataFrame(table))
        df.createOrReplaceTempView(name)
        self._frames[name] = df

    def create(self, name: str, sql: str) -> None:
        """Compute the statement now and keep its rows, as a table whose plan is only those rows.

        Each statement reads the ones before it, so with ``cache()`` the plan of the last
        (``cases``) held the plans of all seventeen others; Spark re-analyses, re-optimises and
        matches against its cache every plan it is given, so planning grew with the derivation
        (100k entries: ``cases`` alone 20-30 s of a 120 s derivation, the JVM's planning threads
        busy).  A local checkpoint cuts the lineage: the rows are kept in the executors' block
        stores (memory, then disk) and the next statement plans against them alone -- 100k
        entries: derivation 120 -> 50 s, 1M 233 -> 138 s; the same findings.  (Local, not
        reliable, checkpoints: an executor lost mid-analysis fails the run, which is then run
        again; nothing is written anywhere until it ends.)"""
        df = self._narrow(self.spark.sql(to_spark_sql(sql))).localCheckpoint(eager=True)
        df.createOrReplaceTempView(name)
        self._frames[name] = df

    def _narrow(self, df):
        """At most two partitions per core.  A large Arrow table (past ~30 MB here) comes in as
        one partition per 10,000 rows (Arrow's batch size) and a statement over it keeps them, so
        every later scan ran one task per 10,000 rows (1M entries: 210 for the parties), each
        with its fixed cost; coalescing (no shuffle) to twice the cores keeps every core busy
        with fewer tasks: 1M entries' derivation 138 -> 110 s, 100k unchanged."""
        return df.coalesce(2 * max(1, self.spark.sparkContext.defaultParallelism))

    def fetch(self, sql: str) -> pa.Table:
        return self.spark.sql(to_spark_sql(sql)).toArrow()

    def close(self) -> None:
        """Drop the views and free the kept rows (the session itself stays: one per process)."""
        for name, df in self._frames.items():
            try:
                self.spark.catalog.dropTempView(name)
                plan = df._jdf.queryExecution().analyzed()
                if plan.getClass().getSimpleName() == "LogicalRDD":   # a checkpoint's blocks
                    plan.rdd().unpersist(False)
            except Exception:  # pragma: no cover - best effort
                pass
        self._frames.clear()


def _python() -> str:
    import sys

    return sys.executable


def make_engine(name: str = "duckdb") -> Engine:
    if name == "duckdb":
        return DuckEngine()
    if name == "spark":
        return SparkEngine()
    raise ValueError(f"engine {name!r}: expected one of {ENGINES}")
