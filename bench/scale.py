"""End-to-end scale benchmark (issue 9): generate -> ingest -> link -> analyse, time and peak RSS
per stage, for the embedded mode (SQLite + DuckDB) and the server mode (PostgreSQL + Spark).

    uv run python bench/scale.py --entries 100000 [--entries 1000000 ...]
                                 [--mode embedded|server|both] [--pg DSN] [--spark-master URL]
                                 [--workers 2] [--keep] [--stages ingest,link,analyse] [--plot] [--bulk]

Every stage runs the real CLI as a child process (what a user runs); peak RSS is the sum over the
process tree (Spark's JVM included), sampled every 100 ms.  The number of cases is chosen from the
target number of hearing entries (≈ 5.3 entries per case on the generator's default mix; the
figure actually ingested is what is reported).  Corpora are cached in bench/out/scale-<entries>.
Server mode ingests into a fresh PostgreSQL database (created and dropped on the server of --pg),
then links and analyses with --engine spark.  `--bulk`: the ingest is `ingest --bulk` (a first load:
indexes built and, on PostgreSQL, foreign keys checked once at the end).  Each run appends one JSON line per stage to
bench/out/scale.jsonl; --plot draws bench/scale.png (Altair; time per stage against entries, log-log).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
ENTRIES_PER_CASE = 5.3


def run_measured(cmd: list[str], env: dict, *, ok=(0,)) -> dict:
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc = psutil.Process(p.pid)
    peak = 0
    while p.poll() is None:
        try:
            rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.1)
    out, err = p.communicate()
    if p.returncode not in ok:
        # the first error lines say what failed (a JVM stack trace's tail only repeats its frames)
        first = [ln for ln in err.splitlines() if any(w in ln for w in ("Error", "Exception", "error:"))][:8]
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n" + "\n".join(first) + f"\n...\n{err[-3000:]}")
    return {"seconds": round(time.perf_counter() - t0, 1), "peak_rss_gib": round(peak / 2**30, 2),
            "stdout": out}


def pg_database(dsn: str, name: str, *, drop: bool = False) -> str:
    import sqlalchemy as sa

    u = sa.make_url(dsn)
    eng = sa.create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    eng.dispose()
    return u.set(database=name).render_as_string(hide_password=False)


def corpus_for(entries: int, cli: list[str], env: dict, workers: int) -> tuple[Path, dict | None]:
    cases = max(100, round(entries / ENTRIES_PER_CASE))
    corpus = OUT / f"scale-{entries}"
    if (corpus / "truth.json").exists():
        return corpus, None
    corpus.parent.mkdir(parents=True, exist_ok=True)
    # the generator's --workers is 0 or 1 (a list-writing thread); ingest takes the parser workers
    r = run_measured(cli + ["generate", "--cases", str(cases), "--seed", "9", "--out", str(corpus),
                            "--workers", str(min(workers, 1))], env)
    return corpus, {"stage": "generate", "cases": cases, **{k: r[k] for k in ("seconds", "peak_rss_gib")}}


class _Rows(list):
    """Rows of one run, each logged (bench/out/scale.jsonl) and printed as its stage ends, so that a
    long run that fails later keeps what it measured."""

    def __init__(self, mode: str, entries: int, emit):
        super().__init__()
        self.mode, self.entries, self.emit = mode, entries, emit

    def append(self, row: dict) -> None:
        row.update(mode=self.mode, entries=self.entries, at=dt.datetime.now().isoformat(timespec="seconds"),
                   machine=f"{platform.node()} {os.cpu_count()} cpu "
                   f"{psutil.virtual_memory().total / 2**30:.0f} GiB", load=os.getloadavg()[0])
        super().append(row)
        self.emit(row)


def one(mode: str, entries: int, a, cli: list[str], emit) -> list[dict]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    rows = _Rows(mode, entries, emit)
    corpus, gen = corpus_for(entries, cli, env, a.workers)
    if gen:
        rows.append(gen)
    home = OUT / f"scale-home-{mode}-{entries}"
    stages = a.stages.split(",")
    resume = "ingest" not in stages
    if resume and not home.exists():
        raise SystemExit(f"--stages {a.stages} needs the archive a kept run left in {home} (--keep)")
    if not resume:
        subprocess.run(["rm", "-rf", str(home)], check=True)
    env["COURTARCHIVE_HOME"] = str(home)
    dbname = None
    if mode == "server":
        if not a.pg:
            raise SystemExit("server mode needs --pg DSN (or COURTARCHIVE_TEST_PG)")
        if resume:
            raise SystemExit("--stages without ingest is for the embedded mode (the server database is dropped)")
        dbname = "courtarchive_scale_" + uuid.uuid4().hex[:8]
        env["COURTARCHIVE_DB"] = pg_database(a.pg, dbname)
        if a.spark_master:
            env["COURTARCHIVE_SPARK_MASTER"] = a.spark_master
    engine = "spark" if mode == "server" else "duckdb"
    keep = a.keep or resume
    try:
        if "ingest" in stages:
            run_measured(cli + ["init"], env)
            r = run_measured(cli + ["ingest", str(corpus / "lists"), "--json", "--workers", str(a.workers)]
                             + (["--bulk"] if a.bulk else []), env, ok=(0, 1))
            rep = json.loads(r["stdout"])
            # the CLI's after-ingest steps (search index, alerts) are in the stage's time; shown apart
            after = {k.rsplit(":", 1)[-1].replace("refresh", "search_index"): v.get("seconds")
                     for k, v in (rep.get("after_ingest") or {}).items() if isinstance(v, dict) and "seconds" in v}
            rows.append({"stage": "ingest", "entries_ingested": rep["hearings"], "files": rep["files"],
                         "rejected": len(rep["rejected"]), "seconds": r["seconds"], "peak_rss_gib": r["peak_rss_gib"],
                         "entries_per_s": round(rep["hearings"] / max(r["seconds"], 1e-9)),
                         **({"bulk_restore_s": rep["bulk"]["restore_seconds"]} if a.bulk else {}),
                         **{f"{k}_s": v for k, v in after.items()}})
        if "link" in stages:
            r = run_measured(cli + ["link", "run", "--full", "--engine", engine, "--json"], env)
            st = json.loads(r["stdout"])
            rows.append({"stage": "link", "engine": engine, "defendant_mentions": st["defendants"]["mentions"],
                         "persons": st["defendants"]["persons"], "seconds": r["seconds"],
                         "peak_rss_gib": r["peak_rss_gib"]})
        if "analyse" in stages:
            r = run_measured(cli + ["analyse", "--out", str(home / "analysis"), "--engine", engine, "--no-cache"],
                             env)
            f = json.loads((home / "analysis" / "findings.json").read_text())
            rows.append({"stage": "analyse", "engine": engine, "seconds": r["seconds"],
                         "peak_rss_gib": r["peak_rss_gib"], "cases_in_scope": f.get("cases"),
                         "victims_linked_to_2plus_defendants": f.get("victims_linked_to_2plus_defendants")})
    finally:
        if dbname and not keep:
            pg_database(a.pg, dbname, drop=True)
        if not keep:
            subprocess.run(["rm", "-rf", str(home)], check=False)
    return rows


def plot(lines: list[dict], path: Path) -> None:
    import altair as alt
    import polars as pl

    df = pl.DataFrame([{k: r[k] for k in ("mode", "stage", "entries", "seconds")} for r in lines])
    df = df.group_by("mode", "stage", "entries").agg(pl.col("seconds").min()).sort("entries")
    ch = (alt.Chart(df.to_pandas()).mark_line(point=True)
          .encode(x=alt.X("entries:Q", scale=alt.Scale(type="log"), title="hearing entries"),
                  y=alt.Y("seconds:Q", scale=alt.Scale(type="log"), title="seconds"),
                  color="stage:N", strokeDash="mode:N")
          .properties(title="courtarchive end to end: time per stage", width=520, height=320))
    ch.save(str(path), scale_factor=1.5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, action="append", help="target hearing entries (repeatable)")
    ap.add_argument("--mode", default="embedded", choices=("embedded", "server", "both"))
    ap.add_argument("--pg", default=os.environ.get("COURTARCHIVE_TEST_PG"))
    ap.add_argument("--spark-master", default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="keep the archives (and PostgreSQL databases)")
    ap.add_argument("--stages", default="ingest,link,analyse",
                    help="comma-separated stages to run; without ingest, reuse the archive a --keep run left")
    ap.add_argument("--plot", action="store_true")
    ap.add_argument("--bulk", action="store_true", help="ingest with --bulk (a first load)")
    a = ap.parse_args()
    cli = [sys.executable, "-m", "courtarchive.serve.cli"]
    modes = ("embedded", "server") if a.mode == "both" else (a.mode,)
    log = OUT / "scale.jsonl"
    OUT.mkdir(parents=True, exist_ok=True)
    print("| mode | entries | stage | seconds | peak RSS GiB | detail |\n|---|---|---|---|---|---|")
    def emit(row: dict) -> None:
        with log.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        detail = {k: v for k, v in row.items() if k not in ("mode", "entries", "stage", "seconds",
                                                            "peak_rss_gib", "at", "machine", "load")}
        print(f"| {row['mode']} | {row['entries']:,} | {row['stage']} | {row['seconds']} | "
              f"{row['peak_rss_gib']} | {detail} |", flush=True)

    # --plot alone redraws the plot from the rows logged so far
    for entries in a.entries or ([] if a.plot else [100_000]):
        for mode in modes:
            one(mode, entries, a, cli, emit)
    if a.plot and log.exists():
        plot([json.loads(x) for x in log.read_text().splitlines() if x.strip()], ROOT / "bench" / "scale.png")


if __name__ == "__main__":
    main()
