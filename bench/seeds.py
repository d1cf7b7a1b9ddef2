"""Issue 6's "with real linkage, within 2 %" on several generated corpora, end to end.

    uv run python bench/seeds.py [--seeds 1 2 3 4 5] [--cases 25000] [--work /tmp/ca-bench-seeds]
                                 [--relink] [--tol 0.02]

For each seed: a generated corpus (`courtarchive generate --cases N --seed S`, made once and
reused), an archive of it (`init`, `ingest`; reused), a full link run (`link run --full`; again
with ``--relink``, e.g. after changing the linker), `link evaluate` against the truth, and for
both scopes `analyse` with real linkage and with the truth's ids (`--oracle`; both every run, so
that a change to the analysis is on both sides), compared number
by number with `bench/findings_diff.py`.  Each step is the real CLI in its own process, with the
archive's own home (``COURTARCHIVE_HOME``).  Prints a Markdown table (numbers compared / more than
the tolerance off, per scope; defendant and complainant pairwise precision / recall) and the
numbers that are off, and exits 1 when any is.

Synthetic data only.  Seed 1 is the corpus the linker was tuned on; the others are not.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "courtarchive.serve.cli"]
SCOPES = ("child-sexual-abuse", "all")


def run(args: list[str], home: Path, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, COURTARCHIVE_HOME=str(home))
    env.pop("COURTARCHIVE_DB", None)
    p = subprocess.run(CLI + args, env=env, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise SystemExit(f"courtarchive {' '.join(args)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return p


def pairwise(evaluate_out: str) -> dict[str, str]:
    """{"defendants": "P / R", "complainants": "P / R"} from `link evaluate --json`."""
    d = json.loads(evaluate_out)
    out = {}
    for who in ("defendants", "complainants"):
        m = d.get(who) or {}
        pw = m.get("pairwise") or {}
        if pw:
            out[who] = f"{pw['precision']:.4f} / {pw['recall']:.4f}"
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--cases", type=int, default=25000)
    ap.add_argument("--work", type=Path, default=Path("/tmp/ca-bench-seeds"))
    ap.add_argument("--relink", action="store_true", help="link again even when the archive has a link run")
    ap.add_argument("--tol", type=float, default=0.02)
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    rows, any_off = [], False
    for seed in a.seeds:
        corpus, home = a.work / f"corpus-{a.cases}-{seed}", a.work / f"home-{a.cases}-{seed}"
        t0 = time.perf_counter()
        if not (corpus / "truth.json").exists():
            run(["generate", "--cases", str(a.cases), "--seed", str(seed), "--out", str(corpus)], home)
        linked = (home / ".linked").exists()
        if not (home / ".ingested").exists():
            run(["init"], home)
            run(["ingest", str(corpus / "lists")], home)
            (home / ".ingested").touch()
            linked = False
        if a.relink or not linked:
            run(["link", "run", "--full"], home)
            (home / ".linked").touch()
        ev = pairwise(run(["link", "evaluate", "--truth", str(corpus / "truth.json"), "--json"], home).stdout)
        cells, offs = [], []
        for scope in SCOPES:
            out, ora = a.work / f"findings-{a.cases}-{seed}-{scope}", a.work / f"oracle-{a.cases}-{seed}-{scope}"
            run(["analyse", "--scope", scope, "--out", str(out)], home)
            # both sides with this code, every run (analyse keeps its derived inputs cached)
            run(["analyse", "--scope", scope, "--out", str(ora), "--oracle", str(corpus / "truth.json")], home)
            p = subprocess.run([sys.executable, str(ROOT / "bench" / "findings_diff.py"), str(out / "findings.json"),
                                str(ora / "findings.json"), "--tol", str(a.tol)], capture_output=True, text=True)
            lines = p.stdout.strip().splitlines()
            summary = json.loads(lines[-1])
            cells.append(f"{summary['compared']:,} / **{summary['off']}**")
            offs += [f"seed {seed} {scope}: {ln[5:]}" for ln in lines[:-1] if ln.startswith("OFF")]
        any_off |= bool(offs)
        rows.append((seed, *cells, ev.get("defendants", "-"), ev.get("complainants", "-"),
                     f"{time.perf_counter() - t0:.0f}"))
        print(f"# seed {seed} done", file=sys.stderr)
        for o in offs:
            print("OFF  " + o, file=sys.stderr)
    print(f"| seed ({a.cases:,} cases) | child-sexual-abuse: numbers / off | all: numbers / off | "
          "defendants pairwise P / R | complainants pairwise P / R | seconds |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(str(x) for x in r) + " |")
    return 1 if any_off else 0


if __name__ == "__main__":
    sys.exit(main())
