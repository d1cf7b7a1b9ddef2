"""`link evaluate`: pairwise and B-cubed scores, and the join to the generator's truth files."""

from __future__ import annotations

import datetime as dt

import orjson
import polars as pl
import pytest

from courtarchive.link.evaluate import evaluate, metrics


def test_metrics_on_tiny_truth():
    # truth: {a,b,c} {d,e}; predicted: {a,b} {c,d,e}
    m = metrics(["1", "1", "2", "2", "2"], ["x", "x", "x", "y", "y"])
    p = m["pairwise"]
    assert (p["true_pairs"], p["linked_pairs"], p["correct_pairs"]) == (4, 4, 2)
    assert p["precision"] == 0.5 and p["recall"] == 0.5 and p["f1"] == 0.5
    b = m["bcubed"]
    # precision: a,b 1; c 1/3; d,e 2/3 -> (2 + 1/3 + 4/3) / 5; recall: a,b 2/3; c 1/3; d,e 1
    assert b["precision"] == pytest.approx((2 + 1 / 3 + 4 / 3) / 5, abs=1e-6)
    assert b["recall"] == pytest.approx((4 / 3 + 1 / 3 + 2) / 5, abs=1e-6)
    perfect = metrics([1, 1, 2], ["a", "a", "b"])
    assert perfect["pairwise"]["f1"] == 1.0 and perfect["bcubed"]["f1"] == 1.0


def test_evaluate_against_truth_files(tmp_path):
    from courtarchive.link import run as R
    from courtarchive.store import Archive
    from test_link_run import parsed

    a = Archive.open(f"sqlite:///{tmp_path / 'a.db'}")
    a.init()
    d = lambda y, m, dd: dt.date(y, m, dd)  # noqa: E731
    rows = [dict(forenames="Adam", surname="ASHWORTH", date_of_birth=d(1980, 1, 2), urn="U1", victim="Jane SMITH", party_id=0),
            dict(forenames="Adam", surname="ASHWORTH", date_of_birth=d(1980, 1, 2), urn="U2", victim="", party_id=0),
            dict(forenames="Barry", surname="BLACK", date_of_birth=d(1975, 3, 4), urn="U3", victim="SMITH, Jane", party_id=0)]
    # the store is given the file as an absolute path; the truth names it relative to lists/
    lists = tmp_path / "corpus" / "lists"
    a.write(parsed(rows, d(2024, 2, 1), str(lists / "2024" / "a.json")), content_hash="e1")
    R.run(a, full=True)
    tdir = tmp_path / "corpus" / "truth"
    tdir.mkdir(parents=True)
    f = "2024/a.json"
    pl.DataFrame({"file": [f] * 3, "json_path": ["$.h[0].p[0]", "$.h[1].p[1]", "$.h[2].p[2]"],
                  "person_id": ["P1", "P1", "P2"], "masked": [False] * 3}).write_parquet(tdir / "defendant_mentions.parquet")
    pl.DataFrame({"file": [f] * 3, "json_path": ["$.h[0].p[0].o[0]", "$.h[1].p[1].o[0]", "$.h[2].p[2].o[0]"],
                  "victim_id": ["V1", "V2", "V1"], "kind": ["named", "described", "named"]}
                 ).write_parquet(tdir / "complainant_mentions.parquet")
    (tmp_path / "corpus" / "truth.json").write_bytes(orjson.dumps({"files": {}}))
    res = evaluate(a, tmp_path / "corpus" / "truth.json")
    dm, cm = res["defendants"], res["complainants"]
    assert dm["matched"] == 3 and dm["pairwise"]["precision"] == 1.0 and dm["pairwise"]["recall"] == 1.0
    assert cm["matched"] == 3 and cm["unlinkable"] == 1 and cm["mentions"] == 2
    assert cm["pairwise"]["f1"] == 1.0 and cm["unlinkable_by_truth_kind"] == {"described": 1}
    a.close()
