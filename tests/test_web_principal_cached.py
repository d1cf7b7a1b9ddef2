"""`deps.current_principal` on a PostgreSQL archive looks the caller up in the thread pool (a round
trip must not stop the event loop) -- but only once a request: the error handler asks again for
the page header, and a known principal is returned as it is, without a hop that waits behind every
request queued on the pool."""

import asyncio
from types import SimpleNamespace

from courtarchive.serve import auth, deps


def _request(principal=None):
    app = SimpleNamespace(state=SimpleNamespace(portal=SimpleNamespace(archive=SimpleNamespace(sqlite=False))))
    state = SimpleNamespace()
    if principal is not None:
        state.principal = principal
    return SimpleNamespace(app=app, state=state)


def test_a_known_principal_is_not_looked_up_again_in_the_thread_pool(monkeypatch):
    hops = []

    async def pool(fn, *a):
        hops.append(fn)
        return fn(*a)

    monkeypatch.setattr(deps, "run_in_threadpool", pool)
    monkeypatch.setattr(deps, "principal", lambda request: "looked up")
    known = auth.Principal.anonymous()
    assert asyncio.run(deps.current_principal(_request(known))) is known and hops == []
    assert asyncio.run(deps.current_principal(_request())) == "looked up" and len(hops) == 1
