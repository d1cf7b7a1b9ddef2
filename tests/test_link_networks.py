"""Networks: components and Leiden communities of the defendant graph, stable network ids."""

from __future__ import annotations

import itertools

import polars as pl

from courtarchive.link.networks import networks


def inputs():
    cd = pl.DataFrame({"case_id": [1] * 4 + [2] * 4 + [3, 3], "defendant_id": [1, 2, 3, 4, 5, 6, 7, 8, 20, 21]})
    # complainant 100: charged against defendant 4 (case 1) and defendant 5 (case 2)
    oc = pl.DataFrame({"case_id": [1, 2], "defendant_id": [4, 5], "complainant_id": [100, 100]})
    return cd, oc


def test_components_communities_and_stable_ids():
    cd, oc = inputs()
    counter = itertools.count(1000)
    new = lambda n: [next(counter) for _ in range(n)]  # noqa: E731
    rows, members, retired, stats = networks(cd, oc, old_components={}, old_communities={}, new_ids=new)
    comps = [r for r in rows if r["kind"] == "component"]
    coms = [r for r in rows if r["kind"] == "community"]
    assert sorted(r["size"] for r in comps) == [2, 8] and retired == []
    big = next(r for r in comps if r["size"] == 8)
    assert big["cases"] == 2 and big["complainants"] == 1
    # the two cases joined through the shared complainant are two Leiden communities of that component
    assert sorted(r["size"] for r in coms) == [4, 4] and all(r["parent_id"] == big["id"] for r in coms)
    m = pl.from_arrow(members)
    by_net = {n: set(g["person_id"].to_list()) for (n,), g in m.group_by("network_id")}
    assert {1, 2, 3, 4} in by_net.values() and {5, 6, 7, 8} in by_net.values()
    # a re-run with one more co-defendant keeps every id
    old_c = {p: r["id"] for r in comps for p in by_net[r["id"]]}
    old_k = {p: r["id"] for r in coms for p in by_net[r["id"]]}
    cd2 = pl.concat([cd, pl.DataFrame({"case_id": [3], "defendant_id": [22]})])
    rows2, _, retired2, _ = networks(cd2, oc, old_components=old_c, old_communities=old_k, new_ids=new)
    assert {r["id"] for r in rows2} == {r["id"] for r in rows} and retired2 == []
    assert not any(r["new"] for r in rows2)


def test_igraph_is_imported_without_matplotlib():
    """`config.igraph()` imports igraph with matplotlib hidden (igraph's drawing back end, 0.28 s
    of every start that builds a network); matplotlib stays importable afterwards, and one already
    imported is left alone.  A fresh interpreter each way."""
    import subprocess
    import sys

    code = ("import sys, courtarchive.config as c; ig = c.igraph(); "
            "print('matplotlib' in sys.modules, ig.Graph(n=3).vcount()); import matplotlib; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "3", "ok"]
    code = "import sys, matplotlib, courtarchive.config as c; ig = c.igraph(); print(sys.modules['matplotlib'] is matplotlib)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split() == ["True"]
