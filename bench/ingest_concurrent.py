"""Two `courtarchive ingest` runs into one archive at once, against one run of the same lists.

    uv run python bench/ingest_concurrent.py [--cases 3000] [--seed 3] [--pg DSN] [--keep DIR]

Generates a corpus, deals its lists alternately into two folders, then for each backend (SQLite;
PostgreSQL too with ``--pg``, each run in a database of its own made and dropped here) ingests:
both folders in one run (the reference), the two folders by two runs at once ("halves"), and all
the lists by two runs at once ("same").  Prints wall seconds, what each run accepted, found
archived and rejected, and whether the archive's stats equal the reference's.  (Before the ingest
writers' lock, session 27, PostgreSQL's runs at once deadlocked and quarantined valid lists.)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_ingest_concurrent import deal_alternately, ingests_at_once  # noqa: E402  (one definition)


def cli(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "courtarchive.serve.cli", *args], env=env,
                          capture_output=True, text=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--pg", help="PostgreSQL DSN (postgresql+psycopg://...): run there too")
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it")
    a = ap.parse_args()
    root = a.keep or Path(tempfile.mkdtemp(prefix="ingest-concurrent-"))
    root.mkdir(parents=True, exist_ok=True)
    env0 = dict(os.environ, COURTARCHIVE_HOME=str(root / "home"))
    r = cli(["generate", "--cases", str(a.cases), "--seed", str(a.seed), "--out", str(root / "corpus")], env0)
    assert r.returncode == 0, r.stderr
    folders = [root / "a", root / "b"]
    n_lists = deal_alternately(root / "corpus" / "lists", folders)
    both = list(map(str, folders))
    print(f"{n_lists} lists in two folders of {n_lists // 2}+; {root}")

    backends = [("sqlite", None)] + ([("postgresql", a.pg)] if a.pg else [])
    for backend, dsn in backends:
        admin = sa.create_engine(dsn, isolation_level="AUTOCOMMIT") if dsn else None
        reference = None
        for run in ("reference", "halves", "same"):
            if dsn:
                name = "ca_bench_" + uuid.uuid4().hex[:8]
                with admin.connect() as c:
                    c.exec_driver_sql(f"CREATE DATABASE {name}")
                url = sa.make_url(dsn).set(database=name).render_as_string(hide_password=False)
            else:
                url = f"sqlite:///{root / (run + '.db')}"
            env = dict(env0, COURTARCHIVE_DB=url)
            try:
                assert cli(["init"], env).returncode == 0
                t0 = time.perf_counter()
                args = {"reference": [both], "halves": [[both[0]], [both[1]]], "same": [both, both]}[run]
                outs = [report for _, _, report in ingests_at_once(env, *args)]
                secs = time.perf_counter() - t0
                stats = json.loads(cli(["stats", "--json"], env).stdout)
                if run == "reference":
                    reference = stats
                runs = "; ".join(f"accepted {o.get('accepted')}, archived {o.get('duplicates')}, "
                                 f"rejected {len(o.get('rejected', []))}" for o in outs)
                same = {k: v for k, v in stats.items() if k != "quarantined"} == \
                    {k: v for k, v in reference.items() if k != "quarantined"}
                print(f"{backend:10s} {run:9s} {secs:6.1f} s  {runs}  quarantined {stats['quarantined']}"
                      f"  stats as the reference: {same}")
                for o in outs:
                    for rej in o.get("rejected", [])[:2]:
                        print(f"{'':21s}rejected: {rej['reason'][:160]}")
            finally:
                if dsn:
                    with admin.connect() as c:
                        c.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if admin is not None:
            admin.dispose()
    if not a.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
