"""Load test of the web portal and JSON API: N concurrent clients for S seconds on loopback against
a real `courtarchive serve` (uvicorn, its own process) over a generated archive.

    uv run python bench/load.py [--cases 1000] [--clients 50] [--seconds 60] [--think 0]
                                [--think-dist exp|fixed] [--workers 1] [--work /tmp/ca-bench-load]
                                [--client httpcore|httpx] [--no-record]

Builds (once, reused) a generated corpus and a linked, indexed archive with a verified media
account and an API token, starts the server, then runs the clients (async, on httpcore: httpx's
transport without its client layer, ~1.0 ms of client CPU a request against httpx's 1.4-1.6 --
the clients share the server's cores; ``--client httpx`` for the full client) over a mix of
requests: fuzzy name search (misspelt names) and URN search through the API, case / person /
network / day-list pages as HTML (signed-in session) and as JSON (bearer token), and public
court lists.  Every request is a valid one, so every answer must be 200: anything else is an
error.  Prints the figures as JSON and appends them to bench/RESULTS.md under
"Web and API load (issue 8)" (append only; --no-record to skip).

The mix (weights, per request drawn at random): name search API 20 (a misspelt defendant name,
bearer token), URN search API 8 (anonymous), case API 12, person API 10, day-list API 8 (token),
name search page 10, case page 12, person page 8, network page 3 (signed-in session), public day
list page 5 and public courts API 4.  ``--think`` is a pause (s) between one client's requests:
0 is a closed loop (each client fires the moment it is answered: a flood, not people), otherwise
its mean, drawn from an exponential distribution (``--think-dist exp``, the default: people do
not click in lockstep) or fixed; with a think time each client also starts after one such pause
(else all 50 first requests land in the same millisecond and queue behind each other).  The server is `courtarchive serve` (``--workers N`` processes);
its CPU seconds (all its processes, from /proc) are reported per request, so that figures taken
on a shared machine can be compared.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import random
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

KEY = bytes(range(32)).hex()
PASSWORD = "load test passphrase"
SERVE = "from courtarchive.serve.web_cli import app; app()"


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its live children (uvicorn workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    try:
        for line in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            pids.append(int(line))
    except OSError:
        pass
    for p in pids:
        try:
            f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(f[11]) + int(f[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build(work: Path, cases: int, seed: int, pg: str | None = None) -> tuple[str, dict]:
    """Archive (generated, ingested, linked, indexed) + accounts; returns (url, sample ids).  With
    ``pg`` (a PostgreSQL URL) the archive is the schema ``bench_load_<cases>_<seed>`` of that
    database (made once; its meta file says so), else a SQLite file in ``work``."""
    import sqlalchemy as sa

    from courtarchive.governance import accounts
    from courtarchive.governance.pseudonym import Keyring
    from courtarchive.serve import auth
    from courtarchive.store import Archive
    from courtarchive.store import serve as ss
    from courtarchive.store.tables import TABLES

    work.mkdir(parents=True, exist_ok=True)
    corpus, db, meta = work / f"corpus-{cases}-{seed}", work / f"archive-{cases}-{seed}.db", work / f"meta-{cases}-{seed}.json"
    url = f"sqlite:///{db}"
    if pg:
        schema = f"bench_load_{cases}_{seed}"
        meta = work / f"meta-pg-{cases}-{seed}.json"
        u = sa.engine.make_url(pg)
        url = u.set(query={**u.query, "options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
        if not meta.exists():
            eng = sa.create_engine(pg)
            with eng.begin() as c:
                c.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
                c.exec_driver_sql(f"CREATE SCHEMA {schema}")
            eng.dispose()
    if not meta.exists():
        from courtarchive.generate import generate
        from courtarchive.ingest.pipeline import ingest
        from courtarchive.link.run import run as link_run
        from courtarchive.serve.postingest import run as after_ingest

        t = time.perf_counter()
        generate(corpus, cases=cases, seed=seed, years=2)
        if not pg:
            db.unlink(missing_ok=True)
        a = Archive.open(url)
        a.init()
        rep = ingest(a, [corpus / "lists"], keyring=Keyring(bytes.fromhex(KEY)), workers=2)
        link_run(a, full=True)
        after_ingest(a, rep)
        accounts.add(a, username="loadtest", role="verified_media", actor="bench", email="loadtest@example.org",
                     organisation="Bench Gazette")
        accounts.verify(a, username="loadtest", press_card="UKPC-LOAD", verified_by="bench")
        auth.set_password(a, "loadtest", PASSWORD, actor="bench")
        token = auth.create_token(a, "loadtest", name="bench/load.py", actor="bench")["token"]
        ids = ss.sample_ids(a, 200)
        with a.engine.connect() as c:
            Pa = TABLES["party"]
            names = [f"{r.forenames} {r.surname}" for r in c.execute(
                sa.select(Pa.c.forenames, Pa.c.surname).where(Pa.c.role == "DEFENDANT", Pa.c.forenames.is_not(None),
                                                              Pa.c.surname.is_not(None)).limit(300))]
        a.close()
        meta.write_text(json.dumps({"token": token, "names": names, "case_urns": ids["case_urns"],
                                    "persons": ids["persons"], "networks": ids["networks"],
                                    "court_days": [[c, d.isoformat()] for c, d in ids["court_days"]]}))
        print(f"# built the archive ({cases} cases) in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return url, json.loads(meta.read_text())


def misspell(name: str, rnd: random.Random) -> str:
    """One typo in the longer word (drop, double or swap a letter)."""
    words = name.split()
    i = max(range(len(words)), key=lambda k: len(words[k]))
    w = words[i]
    j = rnd.randrange(1, max(2, len(w) - 1))
    op = rnd.choice(("drop", "double", "swap"))
    if op == "drop":
        w = w[:j] + w[j + 1:]
    elif op == "double":
        w = w[:j] + w[j] + w[j:]
    elif j + 1 < len(w):
        w = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    words[i] = w
    return " ".join(words)


def requests_mix(meta: dict, rnd: random.Random):
    """(kind, method, url, auth) -- auth: token | session | none."""
    urn = rnd.choice(meta["case_urns"])
    person = rnd.choice(meta["persons"])
    court, day = rnd.choice(meta["court_days"])
    name = misspell(rnd.choice(meta["names"]), rnd)
    net = rnd.choice(meta["networks"]) if meta["networks"] else None
    choices = [
        (20, ("api_search_name", f"/api/v1/search?q={name}&mode=name", "token")),
        (8, ("api_search_urn", f"/api/v1/search?q={urn}", "none")),
        (12, ("api_case", f"/api/v1/cases/{urn}", "token")),
        (10, ("api_person", f"/api/v1/persons/{person}", "token")),
        (8, ("api_day_list", f"/api/v1/courts/{court}/lists/{day}", "token")),
        (10, ("page_search_name", f"/search?q={name}&mode=name", "session")),
        (12, ("page_case", f"/cases/{urn}", "session")),
        (8, ("page_person", f"/persons/{person}", "session")),
        (5, ("page_day_list_public", f"/courts/{court}/lists/{day}", "none")),
        (4, ("api_courts_public", "/api/v1/courts", "none")),
    ]
    if net:
        choices.append((3, ("page_network", f"/networks/{net}", "session")))
    total = sum(w for w, _ in choices)
    x = rnd.uniform(0, total)
    for w, c in choices:
        x -= w
        if x <= 0:
            return c
    return choices[-1][1]


def sign_in(base: str) -> dict:
    """One signed-in session (cookies), made before the load starts (argon2 is slow on purpose)."""
    import httpx

    with httpx.Client(base_url=base, timeout=60) as c:
        r = c.get("/login")
        tok = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
        r = c.post("/login", data={"username": "loadtest", "password": PASSWORD, "csrf_token": tok})
        if "ca_session" not in c.cookies:
            raise SystemExit(f"sign-in failed: {r.status_code} {r.text[:300]}")
        return {"ca_session": c.cookies["ca_session"]}


@contextlib.asynccontextmanager
async def _getter(lib: str, base: str):
    """``get(url, headers) -> (status, first bytes of the body)`` on one keep-alive connection.
    httpcore (default): the HTTP/1.1 transport under httpx, without httpx's request and response
    models, cookie jar and URL handling -- ~1.0 ms of client CPU a request against httpx's 1.4-1.6
    (the clients share the server's two cores)."""
    if lib == "httpcore":
        from urllib.parse import quote

        import httpcore

        timeout = {"timeout": {"connect": 30, "read": 30, "write": 30, "pool": 30}}
        async with httpcore.AsyncConnectionPool(max_connections=1, max_keepalive_connections=1) as pool:
            async def get(url: str, headers: dict):
                r = await pool.request("GET", base + quote(url, safe="/?&=%:'"), extensions=timeout,
                                       headers=[(k.encode(), v.encode()) for k, v in headers.items()])
                return r.status, r.content[:200].decode(errors="replace")
            yield get
        return
    import httpx

    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as c:
        async def get(url: str, headers: dict):
            if c.cookies:           # (whatever a response set is not sent with the next request)
                c.cookies.clear()
            r = await c.get(url, headers=headers)
            return r.status_code, r.text[:200]
        yield get


async def client(i: int, base: str, meta: dict, until: float, think: float, out: list, errors: list,
                 session_cookies: dict, think_dist: str = "exp", lib: str = "httpcore") -> None:
    rnd = random.Random(1000 + i)
    async with _getter(lib, base) as get:
        bearer = {"Authorization": f"Bearer {meta['token']}"}
        if think:       # people arrive at their own moment, not all in the first millisecond
            await asyncio.sleep(rnd.expovariate(1 / think) if think_dist == "exp" else rnd.uniform(0, think))
        # (the session cookie as a header: httpx's cookie jar, cleared and refilled per request, cost
        # the load generator ~0.2 ms of the two cores per request)
        signed_in = {"Cookie": "; ".join(f"{k}={v}" for k, v in session_cookies.items())}
        while time.monotonic() < until:
            kind, url, how = requests_mix(meta, rnd)
            headers = bearer if how == "token" else signed_in if how == "session" else {}
            t = time.perf_counter()
            try:
                status, text = await get(url, headers)
                ms = (time.perf_counter() - t) * 1000
                if status != 200:
                    errors.append((kind, status, text))
                out.append((kind, ms))
            except Exception as e:          # a refused or dropped connection is an error too
                errors.append((kind, type(e).__name__, str(e)[:200]))
            if think:
                await asyncio.sleep(rnd.expovariate(1 / think) if think_dist == "exp" else think)


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


async def run_clients(base: str, meta: dict, n: int, seconds: float, think: float,
                      sessions: list[dict], think_dist: str = "exp", lib: str = "httpcore") -> tuple[list, list, float]:
    out, errors = [], []
    t0 = time.monotonic()
    until = t0 + seconds
    await asyncio.gather(*(client(i, base, meta, until, think, out, errors, sessions[i], think_dist, lib)
                           for i in range(n)))
    return out, errors, time.monotonic() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--think", type=float, default=0.0,
                    help="mean pause (s) between one client's requests (0: closed loop)")
    ap.add_argument("--think-dist", choices=("exp", "fixed"), default="exp")
    ap.add_argument("--work", type=Path, default=Path("/tmp/ca-bench-load"))
    ap.add_argument("--workers", type=int, default=1, help="`courtarchive serve --workers N`")
    ap.add_argument("--pg", metavar="URL", help="serve a PostgreSQL archive (a schema made once in this "
                    "database, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) instead of a SQLite file")
    ap.add_argument("--client", choices=("httpcore", "httpx"), default="httpcore",
                    help="the clients' HTTP library (httpx: its full client, ~2x the client CPU per request)")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()

    url, meta = build(args.work, args.cases, args.seed, args.pg)
    port = _free_port()
    home = args.work / "home"
    env = dict(os.environ, COURTARCHIVE_DB=url, COURTARCHIVE_KEY=KEY, COURTARCHIVE_HOME=str(home))
    cmd = [sys.executable, "-c", SERVE, "serve", "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warning", "--workers", str(args.workers)]
    server = subprocess.Popen(cmd, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/api/v1/me", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        sessions = [sign_in(base) for _ in range(args.clients)]
        for _ in range(2):          # every worker answers once before the clock starts
            httpx.get(base + "/api/v1/courts", timeout=30)
        load_before = os.getloadavg()
        cpu0, client0 = _cpu_seconds(server.pid), time.process_time()
        out, errors, wall = asyncio.run(run_clients(base, meta, args.clients, args.seconds, args.think, sessions,
                                                    args.think_dist, args.client))
        cpu1, client1 = _cpu_seconds(server.pid), time.process_time()
        load_after = os.getloadavg()
    finally:
        server.terminate()
        server.wait(10)
    lat = [ms for _, ms in out]
    by_kind: dict[str, list[float]] = {}
    for k, ms in out:
        by_kind.setdefault(k, []).append(ms)
    res = {
        "when": dt.datetime.now().isoformat(timespec="seconds"), "cases": args.cases, "clients": args.clients,
        "seconds": round(wall, 1), "think_s": args.think, "think_dist": args.think_dist if args.think else None,
        "workers": args.workers, "backend": "postgresql" if args.pg else "sqlite", "client": args.client,
        "threads": int(os.environ.get("COURTARCHIVE_WEB_THREADS", 0)) or None, "requests": len(out), "errors": len(errors),
        "server_cpu_s": round(cpu1 - cpu0, 1),
        "server_cpu_ms_per_request": round((cpu1 - cpu0) * 1000 / max(len(out), 1), 1),
        # the clients run on the same machine: their CPU is taken from the server's cores too
        "client_cpu_s": round(client1 - client0, 1),
        "rps": round(len(out) / wall, 1), "p50_ms": round(pct(lat, 50), 1), "p95_ms": round(pct(lat, 95), 1),
        "p99_ms": round(pct(lat, 99), 1), "max_ms": round(max(lat, default=0), 1),
        "by_kind": {k: {"n": len(v), "p50_ms": round(pct(v, 50), 1), "p95_ms": round(pct(v, 95), 1)}
                    for k, v in sorted(by_kind.items())},
        "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after": [round(x, 2) for x in load_after],
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "error_samples": errors[:5],
    }
    print(json.dumps(res, indent=2))
    if not args.no_record:
        record(res)


def record(res: dict) -> None:
    path = Path(__file__).with_name("RESULTS.md")
    text = path.read_text() if path.exists() else ""
    lines = []
    if "## Web and API load (issue 8)" not in text:
        lines += ["", "## Web and API load (issue 8)", "",
                  "`bench/load.py`: N concurrent clients (httpx async, closed loop unless a think time is given) on",
                  "loopback against `courtarchive serve` (uvicorn, one process, SQLite) over a generated, linked and",
                  "indexed archive; mix of fuzzy name search, URN search, case / person / network / day-list pages",
                  "(HTML, signed in) and JSON (bearer token) and public lists.  Target: 50 clients for 60 s, 0 errors,",
                  "p95 < 200 ms.  Caveat: measured while other sessions shared the 2-core machine (load average",
                  "below); to be re-run when the box is idle.", "",
                  "| when | cases | clients | workers | think s | s | requests | req/s | errors | p50 ms | p95 ms | p99 ms | server CPU ms/req | load avg (1 min) before / after |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    think = f"{res['think_s']} {res['think_dist']}" if res.get("think_dist") else f"{res['think_s']}"
    row = (f"| {res['when']} | {res['cases']} | {res['clients']} | {res.get('workers', 1)} | {think} | "
           f"{res['seconds']} | {res['requests']} | {res['rps']} | {res['errors']} | {res['p50_ms']} | "
           f"{res['p95_ms']} | {res['p99_ms']} | {res.get('server_cpu_ms_per_request', '')} | "
           f"{res['loadavg_before'][0]} / {res['loadavg_after'][0]} |")
    if lines:
        with open(path, "a") as fh:
            fh.write("\n".join(lines + [row]) + "\n")
        return
    # the section exists: the row goes under the last row of its table (other sections may follow)
    out = text.splitlines()
    start = out.index("## Web and API load (issue 8)")
    end = next((i for i in range(start + 1, len(out)) if out[i].startswith("## ")), len(out))
    last = max((i for i in range(start, end) if out[i].startswith("| 20")), default=end - 1)   # dated rows
    out.insert(last + 1, row)
    path.write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
