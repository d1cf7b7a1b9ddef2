"""Clustering with reviewers' constraints, and stable ids."""

from __future__ import annotations

import itertools

import pyarrow as pa
import pytest

from courtarchive.link.cluster import cluster, stable_ids


def pairs(*edges):
    return pa.table({"unique_id_l": [a for a, _, _ in edges], "unique_id_r": [b for _, b, _ in edges],
                     "match_probability": [p for _, _, p in edges]})


@pytest.fixture(params=["igraph", "splink"])
def db(request):
    if request.param == "igraph":
        return None
    from splink import DuckDBAPI

    return DuckDBAPI()


def labels(df):
    return dict(zip(df["mention_id"].to_list(), df["label"].to_list()))


def test_threshold_and_transitive_components(db):
    p = pairs((1, 2, 0.99), (2, 3, 0.95), (3, 4, 0.97), (5, 6, 0.5))
    lab = labels(cluster(range(1, 8), p, threshold=0.9, db_api=db))
    assert lab == {1: 1, 2: 1, 3: 1, 4: 1, 5: 5, 6: 6, 7: 7}


def test_cannot_link_splits_transitive_chain_at_weakest_edge(db):
    p = pairs((1, 2, 0.99), (2, 3, 0.95), (3, 4, 0.97))
    lab = labels(cluster(range(1, 5), p, threshold=0.9, cannot=[(1, 4)], db_api=db))
    assert lab[1] == lab[2] != lab[3] == lab[4]


def test_must_link_joins_and_cannot_wins_over_must(db):
    p = pairs((1, 2, 0.99))
    lab = labels(cluster(range(1, 5), p, threshold=0.9, must=[(2, 3)], db_api=db))
    assert lab[1] == lab[2] == lab[3] != lab[4]
    lab = labels(cluster(range(1, 5), p, threshold=0.9, must=[(2, 3)], cannot=[(1, 3)], db_api=db))
    assert lab[1] != lab[3]


def test_base_groups_join_through_new_edges(db):
    groups = {1: 100, 2: 100, 3: 200, 4: 200}
    lab = labels(cluster([1, 2, 3, 4, 5], pairs((5, 2, 0.97)), threshold=0.9, groups=groups, db_api=db))
    assert lab[1] == lab[2] == lab[5] and lab[3] == lab[4] != lab[1]


def test_probability_is_best_edge_in_cluster():
    df = cluster([1, 2, 3], pairs((1, 2, 0.95), (2, 3, 0.99)), threshold=0.9)
    assert dict(zip(df["mention_id"].to_list(), df["probability"].to_list())) == {1: 0.95, 2: 0.99, 3: 0.99}


def test_stable_ids_majority_and_ties():
    counter = itertools.count(500)
    new = lambda n: [next(counter) for _ in range(n)]  # noqa: E731
    # previous: persons 10 = {1,2,3}, 11 = {4,5}; now {1,2}, {3,4,5}, {6}
    lab = cluster(range(1, 7), pairs((1, 2, 1.0), (3, 4, 1.0), (4, 5, 1.0)), threshold=0.9)
    out, created, retired = stable_ids(lab, {1: 10, 2: 10, 3: 10, 4: 11, 5: 11}, new)
    pid = dict(zip(out["mention_id"].to_list(), out["person_id"].to_list()))
    assert pid[1] == pid[2] == 10 and pid[3] == pid[4] == pid[5] == 11 and pid[6] == 500
    assert created == [500] and retired == {}
    # a merge: {1..5} -> the id with most shared mentions survives, the other is retired into it
    lab = cluster(range(1, 6), pairs((1, 2, 1.0), (2, 3, 1.0), (3, 4, 1.0), (4, 5, 1.0)), threshold=0.9)
    out, created, retired = stable_ids(lab, {1: 10, 2: 10, 3: 10, 4: 11, 5: 11}, new)
    assert set(out["person_id"].to_list()) == {10} and retired == {11: 10} and created == []
    # a tie: two previous persons with two shared mentions each -> the smallest id
    out, _, retired = stable_ids(lab.filter(lab["mention_id"] <= 4), {1: 12, 2: 12, 3: 11, 4: 11}, new)
    assert set(out["person_id"].to_list()) == {11} and retired == {12: 11}


def test_dob_conflicts_split_chains_through_a_mention_without_dob():
    import polars as pl

    from courtarchive.link.cluster import dob_conflicts

    std = pl.DataFrame({"unique_id": [1, 2, 3, 4, 5],
                        "dob": ["1980-01-02", None, "1991-07-08", "1980-02-01", None],
                        "dob_sw": ["1980-02-01", None, "1991-08-07", "1980-01-02", None],
                        "by_lo": [1980, None, 1991, 1980, 1990], "by_hi": [1980, None, 1991, 1980, 1991]})
    # 1 - 2 - 3: Scott ROBERTS born 1980 and another born 1991, chained by a public-list mention;
    # 4 is 1 with day and month swapped (compatible); 5 is age-only, consistent with 3
    p = pairs((1, 2, 0.99), (2, 3, 0.95), (1, 4, 0.97), (3, 5, 0.96))
    lab = labels(cluster(range(1, 6), p, threshold=0.9, conflicts=dob_conflicts(std)))
    assert lab[1] == lab[2] == lab[4] and lab[3] == lab[5] and lab[1] != lab[3]
    # a reviewer's "same" overrides the conflict
    lab = labels(cluster(range(1, 6), p, threshold=0.9, must=[(1, 3)], conflicts=dob_conflicts(std)))
    assert lab[1] == lab[3]
