"""`courtarchive serve --workers N` (issue 8): several uvicorn processes over one SQLite archive.
Reads and the gate's audit appends race at the database (writer transactions); the portal's own
multi-statement writes (here: subscriptions) take turns across the processes through
`Portal.writing`, a file lock beside the archive.  Nothing may fail, every subscription lands
once, and the audit chain stays whole."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
import sqlalchemy as sa

from test_web_concurrency import _copy_site, _head_seq
from test_web_support import KEY, get_site

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_process_lock_is_held_across_processes(tmp_path):
    """While one process holds `Portal.writing`, another cannot take the lock on the same archive."""
    from courtarchive.serve import views as V

    db = tmp_path / "a.db"
    db.touch()
    probe = ("import fcntl, sys; fh = open(sys.argv[1], 'a+b')\n"
             "try:\n    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB); print('free')\n"
             "except BlockingIOError:\n    print('held')\n")
    lock = V.threading.Lock()
    with V._process_lock(lock, str(db)):
        inside = subprocess.run([sys.executable, "-c", probe, f"{db}.portal-lock"], capture_output=True, text=True)
    after = subprocess.run([sys.executable, "-c", probe, f"{db}.portal-lock"], capture_output=True, text=True)
    assert inside.stdout.strip() == "held" and after.stdout.strip() == "free"
    assert not lock.locked()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    site = _copy_site(get_site(), tmp_path_factory.mktemp("workers"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, COURTARCHIVE_KEY=KEY.hex(), COURTARCHIVE_HOME=str(site.home))
    env.pop("COURTARCHIVE_DB", None)
    proc = subprocess.Popen([sys.executable, "-c", "from courtarchive.serve.web_cli import app; app()", "serve",
                             "--db", site.url, "--port", str(port), "--workers", "2", "--log-level", "warning"],
                            env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            try:
                if httpx.get(base + "/api/v1/me", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("courtarchive serve --workers 2 did not start")
            time.sleep(0.2)
        yield site, base, proc
    finally:
        proc.terminate()
        proc.wait(20)


def test_two_worker_processes_serve_reads_and_writes_without_error(served):
    from courtarchive.governance import audit
    from courtarchive.store import governance as sg

    site, base, proc = served
    assert len(_children(proc.pid)) >= 2                # really two worker processes
    court, day = site.court_day
    media = {"Authorization": f"Bearer {site.tokens['verified_media']}"}
    reads = [(f"/api/v1/cases/{site.urns['plain']}", media), (f"/api/v1/courts/{court}/lists/{day.isoformat()}", media),
             (f"/courts/{court}/lists/{day.isoformat()}", {}), (f"/api/v1/persons/{site.person_plain}", media)]
    a = site.archive()
    try:
        before = sg.audit_summary(a)

        async def fire():
            async with httpx.AsyncClient(base_url=base, timeout=60, limits=httpx.Limits(max_connections=24)) as c:
                start = asyncio.Event()

                async def get(path, headers):
                    await start.wait()
                    return path, await c.get(path, headers=headers)

                async def post(i):
                    await start.wait()
                    return "sub", await c.post("/api/v1/subscriptions", headers=media,
                                               json={"kind": "urn", "query": f"99ZZ{i:07d}", "label": f"workers {i}"})

                tasks = [asyncio.create_task(get(*reads[i % len(reads)])) for i in range(16)]
                tasks += [asyncio.create_task(post(i)) for i in range(8)]
                await asyncio.sleep(0)
                start.set()
                return await asyncio.gather(*tasks)

        answers = asyncio.run(fire())
        bad = [(p, r.status_code, r.text[:200]) for p, r in answers
               if r.status_code != (201 if p == "sub" else 200)]
        assert not bad, bad
        with a.engine.connect() as c:
            got = sorted(r[0] for r in c.execute(sa.text("SELECT query FROM subscription WHERE label LIKE 'workers %'")))
        assert got == sorted(f"99ZZ{i:07d}" for i in range(8))
        res = audit.verify(a)
        assert res.ok, res.problems
        events = [e for e in sg.iter_audit(a) if e["seq"] > _head_seq(before)]
        assert len([e for e in events if e["action"] in ("api", "web")]) == 16
        assert [e["seq"] for e in events] == list(range(_head_seq(before) + 1, _head_seq(before) + 1 + len(events)))
    finally:
        a.close()


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(x) for x in fh.read().split()]
    except OSError:
        return []


def _sockets_on(pid: int, port: int) -> dict[str, set[int]]:
    """{"listen": inodes, "established": inodes} of the TCP sockets process ``pid`` holds on local
    port ``port`` (from /proc: which worker accepted which connection)."""
    held = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            held.add(int(link[8:-1]))
    out: dict[str, set[int]] = {"listen": set(), "established": set()}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            local, state, inode = f[1], f[3], int(f[9])
            if int(local.rsplit(":", 1)[1], 16) == port and inode in held:
                if state == "0A":
                    out["listen"].add(inode)
                elif state == "01":
                    out["established"].add(inode)
    return out


def test_each_worker_listens_on_its_own_socket_and_connections_spread(served):
    """uvicorn's supervisor gave both workers one shared socket, and whichever woke first accepted:
    50 keep-alive clients connecting at once were seen split 41 / 9 (bench/RESULTS.md, session 17).
    Now each worker has a socket of its own in one SO_REUSEPORT group and the kernel spreads the
    connections; a port in use is still refused."""
    from courtarchive.serve import workers

    site, base, proc = served
    port = int(base.rsplit(":", 1)[1])
    # (the workers: the children holding a socket on the port -- not multiprocessing's helper)
    kids = [k for k in _children(proc.pid) if any(_sockets_on(k, port).values())]
    assert len(kids) == 2
    listening = [_sockets_on(k, port)["listen"] for k in kids]
    assert all(len(x) == 1 for x in listening) and listening[0] != listening[1], listening

    async def burst(n: int):
        clients = [httpx.AsyncClient(base_url=base, timeout=60) for _ in range(n)]
        try:
            answers = await asyncio.gather(*(c.get("/api/v1/me") for c in clients))
            assert all(r.status_code == 200 for r in answers)
            return [_sockets_on(k, port)["established"] for k in kids]
        finally:
            for c in clients:
                await c.aclose()

    held = asyncio.run(burst(40))
    assert sum(map(len, held)) >= 40 and min(map(len, held)) >= 8, [len(x) for x in held]
    with pytest.raises(OSError) as e:
        workers.listening_sockets("127.0.0.1", port, 2)           # (already served: not silently shared)
    assert e.value.errno == 98
