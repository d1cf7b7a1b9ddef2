"""Search engine benchmark (issue 8): fuzzy name queries against an index of N people.

    uv run python bench/search.py --people 1000000                  # SQLite in a temp folder
    uv run python bench/search.py --people 1000000 --db postgresql+psycopg://postgres@127.0.0.1:5432/test
    uv run python bench/search.py --db sqlite:////tmp/s.db --reuse   # query an archive built before
    uv run python bench/search.py --db sqlite:////tmp/s.db --reindex # same people, index rebuilt (timed)
    uv run python bench/search.py --db sqlite:////tmp/s.db --reuse --api 500   # also through the API

How the data gets in (documented, as the brief allows): synthetic people are written through the
store's real bulk write path (`Archive.writer`, executemany / COPY) as large synthetic lists -
one hearing, one defendant and one offence per person, 5,000 hearings per list, each list its own
(court, day) so nothing supersedes - without the parser and intake gate (names are the only thing
measured here, and `bench/ingest.py` measures that path).  Names come from the generator's name
pools (Faker en_GB plus the generator's England & Wales surname frequencies: Smith ~1.2%, a Zipf
tail, double-barrelled and other communities' names); 30% carry a middle name.  Then the index is
built by `serve.search.rebuild` - the same code the ingest hook runs - and timed.

Queries are drawn from indexed people and altered the way a journalist mistypes: exact, one typo
(insert/delete/substitute/adjacent swap) in the surname or forename, a typo in each, two typos in
the surname, a nickname/variant forename (name-variant table), forename and surname swapped, the
middle name left out.  Each query runs `serve.search.search_names` (the engine: candidate SQL +
ranking in Python, no HTTP) and is timed with perf_counter (wall) and process_time (CPU: on PostgreSQL the server's work is
not in it); recall@20 counts queries whose person
is among the hits.  A warm-up pass runs first (page cache, lru caches).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

PER_LIST = 5000
COURTS = ("Preston Magistrates' Court", "Leeds Magistrates' Court", "Manchester Crown Court",
          "Cardiff Magistrates' Court", "Birmingham Crown Court", "Highbury Corner Magistrates' Court",
          "Bristol Magistrates' Court", "Newcastle Crown Court")


def _people(n: int, seed: int):
    from courtarchive.generate.names import NamePools
    from courtarchive.generate.reference import load_reference

    pools = NamePools(seed, load_reference(None).variants)
    rng = random.Random(seed)
    for i in range(n):
        g = "male" if rng.random() < 0.8 else "female"
        fore = pools.forename(rng, g)
        mid = pools.forename(rng, g) if rng.random() < 0.3 else None
        yield fore, mid, pools.surname(rng)


def build(archive, n: int, seed: int) -> dict:
    from courtarchive.data.reference import offences
    from courtarchive.model import Hearing, Offence, ParsedList, Party, PublicationMeta

    codes = [o["code"] for o in offences()]
    rng = random.Random(seed + 1)
    t0 = time.perf_counter()
    people = _people(n, seed)
    lists = 0
    start = dt.date(2023, 1, 2)
    with archive.writer(max_files=4, max_seconds=30) as w:
        for first in range(0, n, PER_LIST):
            k = min(PER_LIST, n - first)
            court = COURTS[lists % len(COURTS)]
            day = start + dt.timedelta(days=lists // len(COURTS))
            p = ParsedList(meta=PublicationMeta(list_type="MAGISTRATES_STANDARD_LIST", sensitivity="CLASSIFIED",
                                                court_name=court, content_date=day, version="1",
                                                published_at=dt.datetime.combine(day, dt.time(7)),
                                                source_name=f"bench-{lists}.json"))
            for j in range(k):
                fore, mid, sur = next(people)
                p.hearings.append(Hearing(json_path=f"$.h[{j}]", court_name=court, sitting_date=day,
                                          case_urn=f"99BE{first + j:08d}"))
                p.parties.append(Party(json_path=f"$.h[{j}].p[0]", hearing_ref=j, role="DEFENDANT", forenames=fore,
                                       middle_names=mid, surname=sur.upper(),
                                       date_of_birth=dt.date(1950 + rng.randrange(55), 1 + rng.randrange(12), 1 + rng.randrange(28))))
                p.offences.append(Offence(json_path=f"$.h[{j}].p[0].o[0]", party_ref=j, seq=1,
                                          code=codes[rng.randrange(len(codes))], title="t"))
            w.write(p, content_hash=f"bench-search-{seed}-{n}-{lists}")
            lists += 1
            if lists % 20 == 0:
                print(f"  wrote {first + k:,} people ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    archive.analyze(force=True)     # PostgreSQL: as `courtarchive ingest` does after a big ingest
    return {"lists": lists, "write_seconds": round(time.perf_counter() - t0, 1)}


def _typo(rng: random.Random, s: str) -> str:
    if len(s) < 4:
        return s + rng.choice("aeiou")
    i = rng.randrange(1, len(s) - 1)
    op = rng.randrange(4)
    letters = "abcdefghijklmnopqrstuvwxyz"
    if op == 0:
        return s[:i] + s[i + 1:]
    if op == 1:
        return s[:i] + rng.choice(letters) + s[i:]
    if op == 2:
        return s[:i] + rng.choice([c for c in letters if c != s[i]]) + s[i + 1:]
    return s[:i - 1] + s[i] + s[i - 1] + s[i + 1:] if s[i] != s[i - 1] else s[:i] + s[i + 1:]


KINDS = ("exact", "typo_surname", "typo_forename", "typo_both", "two_typos_surname", "variant_forename",
         "swapped", "middle_missing")


def queries(archive, m: int, seed: int) -> list[dict]:
    """m (query, kind, wanted party_id) drawn from indexed rows (name parts from the party table)."""
    import sqlalchemy as sa

    from courtarchive.governance.pseudonym import load_name_variants
    from courtarchive.store.tables import TABLES

    rng = random.Random(seed + 2)
    Pa, S = TABLES["party"], TABLES["search_name"]
    # Ids are drawn from the index's own id range, and the rows read in id order: a rebuild hands
    # out ids after the old ones (the id sequence goes on), so drawing from 1..max found only part
    # of the sample, a different part after each rebuild (PostgreSQL "recall moving with every
    # rebuild", session 8, was this), and rows in the database's order made the shuffle differ.
    with archive.engine.connect() as c:
        lo, hi = c.execute(sa.select(sa.func.min(S.c.id), sa.func.max(S.c.id))).one()
        ids = [rng.randrange(lo, hi + 1) for _ in range(m * 2)]
        rows = c.execute(sa.select(S.c.party_id, Pa.c.forenames, Pa.c.middle_names, Pa.c.surname)
                         .join(Pa, Pa.c.id == S.c.party_id).where(S.c.id.in_(ids)).order_by(S.c.id)).all()
    rng.shuffle(rows)
    variants: dict[str, list[str]] = {}
    for v, canon in load_name_variants().items():
        variants.setdefault(canon, []).append(v)
        variants.setdefault(v, []).append(canon)
    out = []
    for n, (pid, fore, mid, sur) in enumerate(rows[:m]):
        kind = KINDS[n % len(KINDS)]
        f, s = fore.lower(), sur.lower()
        if kind == "typo_surname":
            s = _typo(rng, s)
        elif kind == "typo_forename":
            f = _typo(rng, f)
        elif kind == "typo_both":
            f, s = _typo(rng, f), _typo(rng, s)
        elif kind == "two_typos_surname":
            s = _typo(rng, _typo(rng, s))
        elif kind == "variant_forename":
            alts = variants.get(f)
            f = rng.choice(alts) if alts else _typo(rng, f)
        q = f"{s} {f}" if kind == "swapped" else (f"{f} {mid.lower()} {s}" if mid and kind == "exact" else f"{f} {s}")
        out.append({"q": q.title(), "kind": kind, "party_id": pid, "name": " ".join(x for x in (fore, mid, sur) if x)})
    return out


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def api(a, qs: list[dict], n: int) -> dict:
    """The same queries through the JSON API of a real `courtarchive serve` on loopback (one
    client, keep-alive, bearer token of a verified media account made here): search, then every
    hit disclosed by the gate and the access audited - what a newsroom script sees.  Wall time
    per request; the server's CPU seconds (from /proc) per request alongside."""
    import subprocess

    import httpx

    sys.path.insert(0, str(Path(__file__).parent))
    from load import KEY, SERVE, _cpu_seconds, _free_port

    from courtarchive.governance import accounts
    from courtarchive.serve import auth

    user = "searchbench"
    if not any(x["username"] == user for x in accounts.listing(a)):
        accounts.add(a, username=user, role="verified_media", actor="bench", email="searchbench@example.org",
                     organisation="Bench Gazette")
        accounts.verify(a, username=user, press_card="UKPC-SEARCH", verified_by="bench")
    token = auth.create_token(a, user, name="bench/search.py", actor="bench")["token"]
    port = _free_port()
    home = Path(tempfile.mkdtemp(prefix="bench-search-home-"))
    env = dict(os.environ, COURTARCHIVE_KEY=KEY, COURTARCHIVE_HOME=str(home))
    env.pop("COURTARCHIVE_DB", None)
    server = subprocess.Popen([sys.executable, "-c", SERVE, "serve", "--db", a.engine.url.render_as_string(False),
                               "--port", str(port), "--log-level", "warning"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base + "/api/v1/me", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.3)
        qs = qs[:n]
        times, found, errors = [], 0, 0
        with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"}) as c:
            for q in qs[:100]:                                   # warm-up
                c.get("/api/v1/search", params={"q": q["q"], "mode": "name", "limit": 20})
            cpu0 = _cpu_seconds(server.pid)
            for q in qs:
                t0 = time.perf_counter()
                r = c.get("/api/v1/search", params={"q": q["q"], "mode": "name", "limit": 20})
                times.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    errors += 1
                    continue
                found += any((h.get("party") or {}).get("id") == q["party_id"] for h in r.json()["hits"])
            cpu1 = _cpu_seconds(server.pid)
    finally:
        server.terminate()
        server.wait(10)
    return {"queries": len(qs), "errors": errors, "p50_ms": round(pct(times, 50), 2), "p95_ms": round(pct(times, 95), 2),
            "p99_ms": round(pct(times, 99), 2), "server_cpu_ms_per_query": round((cpu1 - cpu0) * 1000 / len(qs), 2),
            "recall@20": round(found / len(qs), 3), "load_average": os.getloadavg()}


def run(args) -> dict:
    from courtarchive.serve import search as S
    from courtarchive.store import Archive

    if args.db is None:
        tmp = Path(tempfile.mkdtemp(prefix="bench-search-"))
        args.db = f"sqlite:///{tmp / 'search.db'}"
    a = Archive.open(args.db)
    out: dict = {"db": a.engine.url.render_as_string(), "people": args.people}
    if args.reuse or args.reindex:
        a.init()                                # (an archive written by older code: migrate it)
    if not args.reuse:
        if not args.reindex:
            a.drop_all()
            a.init()
            out["build"] = build(a, args.people, args.seed)
        t0, c0 = time.perf_counter(), time.process_time()
        out["index"] = S.rebuild(a)
        out["index"]["rows_per_s"] = round(out["index"]["added"] / (time.perf_counter() - t0))
        out["index"]["cpu_seconds"] = round(time.process_time() - c0, 1)
        out["index"]["load_average"] = os.getloadavg()
        c0 = time.process_time()
        out["refresh_noop"] = S.refresh(a)
        out["refresh_noop"]["cpu_seconds"] = round(time.process_time() - c0, 2)
    out["status"] = S.status(a)
    if a.sqlite:
        out["db_mb"] = round(Path(a.engine.url.database).stat().st_size / 2**20)
    qs = queries(a, args.queries, args.seed)
    for q in qs[: min(200, len(qs))]:          # warm-up
        S.search_names(a, q["q"])
    times: dict[str, list[float]] = {k: [] for k in KINDS}
    found: dict[str, int] = {k: 0 for k in KINDS}
    tied: dict[str, int] = {k: 0 for k in KINDS}
    cands, ments, relaxed, cpu, passes = [], [], 0, [], {}
    cpu_kind: dict[str, list[float]] = {k: [] for k in KINDS}
    for q in qs:
        c0, t0 = time.process_time(), time.perf_counter()
        r = S.search_names(a, q["q"], limit=20)
        ms = (time.perf_counter() - t0) * 1000
        cpu.append((time.process_time() - c0) * 1000)
        cpu_kind[q["kind"]].append(cpu[-1])
        times[q["kind"]].append(ms)
        cands.append(r["candidates"])
        ments.append(r.get("mentions", 0))
        relaxed += r["passes"] > 1
        passes[r["passes"]] = passes.get(r["passes"], 0) + 1
        if any(h["party_id"] == q["party_id"] for h in r["hits"]):
            found[q["kind"]] += 1
            tied[q["kind"]] += 1
        elif len(r["hits"]) == 20:
            # common names: 20 other mentions scoring at least as well (unlinked namesakes)
            want = S.score_name(S.words(q["q"]), S.words(q["name"]))[0]
            tied[q["kind"]] += min(h["score"] for h in r["hits"]) >= want
    allt = [t for v in times.values() for t in v]
    out["queries"] = len(qs)
    out["latency_ms"] = {"p50": round(pct(allt, 50), 2), "p95": round(pct(allt, 95), 2), "p99": round(pct(allt, 99), 2),
                         "mean": round(statistics.mean(allt), 2)}
    # CPU time of this process per query: the engine's own work (SQLite runs in-process), without
    # the waits for a core that other jobs on a shared 2-core box add to the wall-clock figures
    out["cpu_ms"] = {"p50": round(pct(cpu, 50), 2), "p95": round(pct(cpu, 95), 2), "p99": round(pct(cpu, 99), 2)}
    out["by_kind"] = {k: {"n": len(v), "p50": round(pct(v, 50), 2), "p95": round(pct(v, 95), 2),
                          "cpu_p50": round(pct(cpu_kind[k], 50), 2), "cpu_p95": round(pct(cpu_kind[k], 95), 2),
                          "recall@20": round(found[k] / len(v), 3), "recall@20_ties": round(tied[k] / len(v), 3)}
                      for k, v in times.items() if v}
    out["recall@20"] = round(sum(found.values()) / len(qs), 3)
    # ... counting as found a query whose 20 hits all score at least as well as the person wanted
    out["recall@20_ties"] = round(sum(tied.values()) / len(qs), 3)
    out["candidates"] = {"p50": pct(cands, 50), "p95": pct(cands, 95), "max": max(cands)}
    out["relaxed_share"] = round(relaxed / len(qs), 3)
    out["passes"] = {k: passes[k] for k in sorted(passes)}
    out["load_average"] = os.getloadavg()
    out["mentions_read"] = {"p50": pct(ments, 50), "p95": pct(ments, 95), "max": max(ments)}
    if args.api:
        out["api"] = api(a, qs, args.api)
    a.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--people", type=int, default=1_000_000)
    ap.add_argument("--db", help="database URL (default: a SQLite file in a temp folder)")
    ap.add_argument("--reuse", action="store_true", help="query the archive at --db as it is (no rebuild)")
    ap.add_argument("--reindex", action="store_true",
                    help="keep the people already written at --db, rebuild the index (timed), then query")
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--api", type=int, default=0, metavar="N",
                    help="also send the first N queries through the JSON API of `courtarchive serve`")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    print(json.dumps(run(args), indent=2, default=str))


if __name__ == "__main__":
    main()
