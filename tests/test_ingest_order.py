"""The same lists ingested in another order give the same linkage and the same findings.

An archive's ids (mentions, cases, persons) follow the order its lists arrived in.  Session 28
found two places where they decided results: Splink's u sample, picked by a hash of the mention
ids (3,000-case corpus, halves ingested A-B / B-A: u of rare levels up to 7x apart, 669 / 748 /
762 pairs for review), and the clustering's ties (25k corpus: an SJP press entry scored equally
against two people went to either).  Both are ordered by content now (`link.model.content_ids`).
Here: a generated corpus's lists dealt into two folders, ingested A then B into one archive and
B then A into another, each linked and analysed; the models, the persons and complainant persons
(compared by each mention's provenance: list content hash and JSON path), the review queues and
findings.json (bar timings, run ids and network labels, which are ids) must be equal.  Slow suite
(~40 s); the mechanisms' own tests are in tests/test_link_model.py and tests/test_link_cluster.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from courtarchive.store import Archive
from test_ingest_concurrent import deal_alternately

pytestmark = pytest.mark.slow


def _cli(args: list[str], env: dict) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "courtarchive.serve.cli", *args], env=env, capture_output=True, text=True)
    assert r.returncode == 0, (args, r.stderr[-3000:])
    return r


@pytest.fixture(scope="module")
def two_orders(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    from courtarchive.generate.driver import generate

    root = tmp_path_factory.mktemp("order")
    generate(root / "corpus", cases=3000, seed=3, workers=0)
    a, b = root / "a", root / "b"
    deal_alternately(root / "corpus" / "lists", [a, b])
    out = {}
    for name, first, second in (("ab", a, b), ("ba", b, a)):
        env = dict(os.environ, COURTARCHIVE_HOME=str(root / "home"), COURTARCHIVE_DB=f"sqlite:///{root / name}.db")
        _cli(["init"], env)
        _cli(["ingest", str(first)], env)
        _cli(["ingest", str(second)], env)
        _cli(["link", "run", "--full"], env)
        _cli(["analyse", "--scope", "all", "--out", str(root / f"{name}-analysis")], env)
        out[name] = (root / f"{name}.db", root / f"{name}-analysis" / "findings.json")
    return out


def _query(db: Path, sql: str) -> list[tuple]:
    a = Archive.open(f"sqlite:///{db}")
    try:
        with a.engine.connect() as c:
            return [tuple(r) for r in c.execute(sa.text(sql))]
    finally:
        a.close()


_PARTY = "(SELECT pa.id, pu.content_hash || ' ' || pa.json_path AS at FROM party pa JOIN publication pu ON pu.id = pa.publication_id)"


def _persons(db: Path, kind: str) -> set[frozenset]:
    if kind == "defendant":
        rows = _query(db, f"SELECT x.at, m.person_id FROM person_mention m JOIN {_PARTY} x ON x.id = m.party_id "
                          "WHERE m.kind = 'defendant'")
    else:
        # (several complainants of one wording share its JSON path: told apart by their order in it)
        rows = _query(db, "SELECT pu.content_hash || ' ' || c.json_path || ' ' || "
                          "CAST(ROW_NUMBER() OVER (PARTITION BY c.publication_id, c.json_path ORDER BY c.id) AS TEXT), "
                          "m.person_id FROM person_mention m JOIN complainant c ON c.id = m.complainant_id "
                          "JOIN publication pu ON pu.id = c.publication_id WHERE m.kind = 'complainant'")
    groups: dict[int, set] = {}
    for at, person in rows:
        groups.setdefault(person, set()).add(at)
    return {frozenset(g) for g in groups.values()}


def test_the_same_lists_in_another_order_train_the_same_model(two_orders):
    def levels(db):
        [(model,)] = _query(db, "SELECT model FROM link_run WHERE status = 'done'")
        model = json.loads(model) if isinstance(model, str) else model
        return [(lv.get("m_probability"), lv.get("u_probability"))
                for c in model["comparisons"] for lv in c["comparison_levels"]]

    for (m1, u1), (m2, u2) in zip(levels(two_orders["ab"][0]), levels(two_orders["ba"][0]), strict=True):
        assert u1 == u2
        assert m1 == m2 or m1 == pytest.approx(m2, rel=1e-9)        # (EM sums in parallel: the last bits)


@pytest.mark.parametrize("kind", ["defendant", "complainant"])
def test_the_same_lists_in_another_order_give_the_same_persons(two_orders, kind):
    one, two = (_persons(two_orders[k][0], kind) for k in ("ab", "ba"))
    assert len(one) > 1000 and one == two


def test_the_same_lists_in_another_order_queue_the_same_pairs_for_review(two_orders):
    def queue(db):
        return {(frozenset((a, b)), round(p, 9)) for a, b, p in _query(
            db, f"SELECT x.at, y.at, q.match_probability FROM review_queue q JOIN {_PARTY} x ON x.id = q.party_a "
                f"JOIN {_PARTY} y ON y.id = q.party_b")}

    one, two = queue(two_orders["ab"][0]), queue(two_orders["ba"][0])
    assert len(one) > 100 and one == two


def test_the_same_lists_in_another_order_give_the_same_findings(two_orders):
    def findings(path: Path) -> dict:
        f = json.loads(path.read_text())
        for k in ("timings", "linkage", "generated_at"):
            f.pop(k, None)
        f = _without_labels(f)
        # networks of one size are listed by label, an id: compared as a set
        f["cross_boundary"]["networks_spanning"].sort(key=lambda n: json.dumps(n, sort_keys=True))
        return f

    assert findings(two_orders["ab"][1]) == findings(two_orders["ba"][1])


def _without_labels(x):
    """``x`` without network labels ("N-0012"): labels are ids (ingest order)."""
    if isinstance(x, dict):
        return {k: _without_labels(v) for k, v in x.items() if k not in ("network", "network_id")}
    if isinstance(x, list):
        return [_without_labels(v) for v in x]
    if isinstance(x, str) and x.startswith("N-") and x[2:].isdigit():
        return "N-?"
    return x
