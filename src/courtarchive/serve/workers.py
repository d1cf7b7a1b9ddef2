"""`courtarchive serve --workers N`: uvicorn's worker processes, each with a listening socket of its
own (Linux ``SO_REUSEPORT``), so the kernel spreads connections over the workers.

Why: uvicorn's supervisor gives every worker the one listening socket, and whichever worker's event
loop wakes first accepts.  Browsers and API clients keep their connections open (keep-alive), so
the split made in the first moments lasts: 50 clients were seen split 41 / 9 over two workers
(bench/RESULTS.md, session 17) -- one process, one core (the GIL), served four fifths of the
traffic while the other idled, and those clients waited for it.  With a socket per worker the
kernel hashes each new connection to one of them: about even, whatever the timing.

The supervision is uvicorn's own (`uvicorn.supervisors.Multiprocess`: signals, health checks,
restarts); only which socket a worker gets changes -- worker ``i`` always gets socket ``i``, also
when it is restarted, so no socket of the group is left without a worker to accept on it.
Elsewhere (no ``SO_REUSEPORT``) `serve` runs uvicorn's supervisor as it is.
"""

from __future__ import annotations

import socket

from uvicorn.supervisors.multiprocess import Multiprocess, Process


def available() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def listening_sockets(host: str, port: int, n: int) -> list[socket.socket]:
    """``n`` sockets bound to ``host:port`` in one ``SO_REUSEPORT`` group.  The port is first bound
    without the option, so a port already in use -- by anything, another `courtarchive serve`'s
    group included -- is refused (OSError EADDRINUSE) instead of silently shared."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]          # (port 0: the one the system chose, for every worker)
    out: list[socket.socket] = []
    try:
        for _ in range(n):
            s = socket.socket(family)
            out.append(s)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            s.bind((host, port))
            s.set_inheritable(True)
    except OSError:
        for s in out:
            s.close()
        raise
    return out


class BalancedWorkers(Multiprocess):
    """`Multiprocess` with one socket per worker (``sockets[i]`` for worker ``i``)."""

    def __init__(self, config, sockets: list[socket.socket]) -> None:
        if len(sockets) != config.workers:
            raise ValueError("one listening socket per worker")
        super().__init__(config, sockets)

    def _process(self, idx: int) -> Process:
        return Process(self.config, [self.sockets[idx]])

    def init_processes(self) -> None:
        for idx in range(self.processes_num):
            process = self._process(idx)
            process.start()
            self.processes.append(process)

    def restart_all(self) -> None:
        # (uvicorn's, with worker idx's own socket: a replacement serves before the old one goes)
        for idx, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._process(idx)
            new.start()
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                return
            old.terminate()
            old.join()
            self.processes[idx] = new

    def keep_subprocess_alive(self) -> None:
        # (uvicorn's, with worker idx's own socket: a dead worker's connections have a new acceptor)
        from uvicorn.config import STARTUP_FAILURE

        if self.should_exit.is_set():
            return
        for idx, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            replacement = self._process(idx)
            replacement.start()
            self.processes[idx] = replacement


def run(app: str, *, host: str, port: int, workers: int, **kw) -> None:
    """Serve the app (an import string, ``factory=True``) with ``workers`` processes, balanced."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, workers=workers, factory=True, **kw)
    sockets = listening_sockets(host, port, workers)     # (OSError: the caller says it)
    try:
        BalancedWorkers(config, sockets).run()
    finally:
        for s in sockets:
            s.close()
