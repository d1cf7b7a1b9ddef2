"""Complainant links across cases after pseudonymise-on-expiry (`link.victims.kept_links`).

Complainants are re-clustered from scratch on every run, and the episode evidence that joins a
name across cases is read from the lists: the place and date in the offence wording, the
defendant persons charged.  The expiry deletes the wording and makes the defendants tokens, so a
run after it could not re-make the links that evidence had carried.  Before the fix, on the
600-case corpus below (seed 1), the persons spanning two cases went from 2 to 1, the victims
linked to two or more defendants from 24 to 23, and complainant pairwise recall from 1.0 to
0.973; on 2,000 cases (seed 1) the largest network went from 6 to 4.  Now a previous person with
a mention whose evidence expired keeps its mentions -- unless a reviewer's decision splits a
defendant it was charged against, or a mention is erased (no token)."""

from __future__ import annotations

import datetime as dt
import shutil

import polars as pl
import pytest
import sqlalchemy as sa

from courtarchive.governance import retention
from courtarchive.governance.pseudonym import Keyring
from courtarchive.link import run as R
from courtarchive.link import victims as V
from courtarchive.link.evaluate import complainant_truth, evaluate
from courtarchive.store import Archive
from courtarchive.store import linkage as store
from courtarchive.store.tables import TABLES
from test_link_after_expiry import ingested_corpus
from test_link_run import parsed

KEY = bytes(range(32))
KR = Keyring(KEY)
#: the corpus spans 2019-2020; the default profile keeps raw identities 6 months: this expires
#: the lists of 2019-01 .. 2020-05
AS_OF = dt.date(2020, 12, 1)


@pytest.fixture(autouse=True)
def _configured_key(monkeypatch, tmp_path):
    monkeypatch.setenv("COURTARCHIVE_KEY", KEY.hex())
    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path / "home"))


def _expire(a: Archive, tmp_path) -> None:
    retention.expire(a, keyring=KR, as_of=AS_OF, home=tmp_path / "home")


def _persons(a: Archive, kind: str = "complainant") -> dict[int, int]:
    t = store.person_assignments(a, kind)
    return dict(zip(t["mention_id"].to_pylist(), t["person_id"].to_pylist()))


# --------------------------------------------------------------------------- a generated corpus
@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A generated 600-case corpus (seed 1: two complainants named in two cases each, one joined
    by a place that only the wording gives) ingested into a SQLite archive."""
    return ingested_corpus(tmp_path_factory, "complainants_expiry", cases=600, seed=1)


def _state(a: Archive, truth) -> dict:
    """What must survive expiry: the complainant persons that span two or more cases (by id), the
    true cross-case pairs they hold, the victims linked to two or more defendant persons, the
    complainant scores and the largest network."""
    ct = complainant_truth(a, truth).filter(pl.col("person_id").is_not_null())
    cases = pl.from_arrow(store.complainant_mentions(a)).select("complainant_id", "case_id", "party_id")
    m = ct.select("complainant_id", "victim_id", "person_id").join(cases, on="complainant_id")
    spans = m.group_by("person_id").agg(pl.col("case_id").n_unique().alias("n")).filter(pl.col("n") >= 2)
    pairs = (m.join(m, on=["victim_id", "person_id"], suffix="_r")
             .filter((pl.col("case_id") != pl.col("case_id_r"))
                     & (pl.col("complainant_id") < pl.col("complainant_id_r"))))
    dp = pl.from_arrow(store.person_assignments(a, "defendant")).select(pl.col("mention_id").alias("party_id"),
                                                                         pl.col("person_id").alias("dperson"))
    two = (m.join(dp, on="party_id").group_by("person_id").agg(pl.col("dperson").n_unique().alias("n"))
           .filter(pl.col("n") >= 2))
    ev = evaluate(a, truth)["complainants"]
    nets, _ = store.network_state(a)
    return {"cross_case_persons": sorted(spans["person_id"].to_list()), "true_cross_case_pairs": pairs.height,
            "victims_2plus_defendants": two.height, "precision": ev["pairwise"]["precision"],
            "recall": ev["pairwise"]["recall"],
            "largest_network": max((n["size"] for n in nets if n["kind"] == "component"), default=0)}


@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full"])
def test_cross_case_links_survive_the_expiry(corpus, tmp_path, full):
    """Linked while in clear, expired, linked again (incremental or full): the cross-case
    complainant persons keep their ids and mentions, and nothing the analysis counts drops."""
    db = tmp_path / "a.db"
    shutil.copy(corpus["db"], db)
    a = Archive.open(f"sqlite:///{db}")
    R.run(a, full=True)
    before = _state(a, corpus["out"])
    assert len(before["cross_case_persons"]) == 2 and before["true_cross_case_pairs"] > 0
    _expire(a, tmp_path)
    st = R.run(a, full=full)
    after = _state(a, corpus["out"])
    assert after == before
    assert st["complainants"]["kept_from_previous_run"] > 0
    # what the lists still say no longer joins them: the link is the kept one
    assert st["complainants"]["cross_case_links"] < len(before["cross_case_persons"]) * 2
    R.run(a)
    assert _state(a, corpus["out"]) == before
    a.close()


# --------------------------------------------------------------------------- the rules, one at a time
# (``archive``: conftest's, on SQLite and, with COURTARCHIVE_TEST_PG, on PostgreSQL)
ADAM = dict(forenames="Adam", surname="ASHWORTH", date_of_birth=dt.date(1980, 1, 2))
BARRY = dict(forenames="Barry", surname="BLACK", date_of_birth=dt.date(1975, 3, 4))
AT_PRESTON = "Sexually assaulted [complainant] at Preston"


def _listing(a: Archive, day: dt.date, urn: str, defendant: dict, wording: str = AT_PRESTON) -> None:
    """One list of one case: ``defendant`` charged with an offence against "Jane SMITH"."""
    a.write(parsed([dict(defendant, urn=urn, victim="Jane SMITH", wording=wording)], day, f"{urn}-{day}.json"),
            content_hash=f"{urn}-{day}")


def _complainants(a: Archive) -> list[int]:
    return store.complainant_mentions(a)["complainant_id"].to_pylist()


@pytest.fixture
def rare(monkeypatch):
    """The name "Jane SMITH", in two or three cases here, is not rare (as in a real archive): only
    the place or a defendant charged in both cases joins her across them."""
    monkeypatch.setattr(V, "RARE_NAME_CASES", 1)


def test_a_link_on_an_expired_place_is_kept_and_a_new_mention_joins(archive, tmp_path, rare):
    """Two cases, two defendants, one complainant name at one place: joined while the wordings
    gave the place.  The expiry deletes the wordings; the person keeps both mentions and its id,
    and a later case naming her with a defendant of the first case joins that person."""
    _listing(archive, dt.date(2019, 3, 4), "U1", ADAM)
    _listing(archive, dt.date(2019, 4, 4), "U2", BARRY)
    R.run(archive, full=True)
    j1, j2 = _complainants(archive)
    before = _persons(archive)
    assert before[j1] == before[j2]
    _expire(archive, tmp_path)
    st = R.run(archive)
    assert _persons(archive) == before
    assert st["complainants"]["cross_case_links"] == 0          # the place is gone ...
    assert st["complainants"]["kept_from_previous_run"] == 2    # ... the link stays
    _listing(archive, dt.date(2020, 11, 2), "U3", ADAM, wording="Sexually assaulted [complainant]")
    R.run(archive)
    j3 = _complainants(archive)[2]
    p = _persons(archive)
    assert p[j1] == p[j2] == p[j3] == before[j1]


def test_a_reviewers_decision_takes_a_kept_link_back(archive, tmp_path, rare):
    """One defendant charged in two cases, against one name at one place: one victim.  After the
    expiry a reviewer decides the two defendant mentions are different people; "a defendant
    charged in both cases" may have been what joined her, and the place that also did is gone:
    the link is not kept, and nothing left joins the two."""
    _listing(archive, dt.date(2019, 3, 4), "U1", ADAM)
    _listing(archive, dt.date(2019, 4, 4), "U2", ADAM)
    R.run(archive, full=True)
    j1, j2 = _complainants(archive)
    d1, d2 = store.defendant_mentions(archive)["party_id"].to_pylist()
    assert _persons(archive)[j1] == _persons(archive)[j2]
    assert _persons(archive, "defendant")[d1] == _persons(archive, "defendant")[d2]
    _expire(archive, tmp_path)
    store.add_review_decision(archive, d1, d2, "different", "alice")
    st = R.run(archive)
    assert _persons(archive, "defendant")[d1] != _persons(archive, "defendant")[d2]
    assert _persons(archive)[j1] != _persons(archive)[j2]
    assert st["complainants"]["questioned_by_decisions"] == 1


def test_an_erased_mention_is_not_kept(archive, tmp_path, rare):
    """Three cases name one victim at one place; after the expiry one mention is erased (token and
    Bloom filter cleared, as `rights.erase` leaves a complainant): it is linked to nobody, the
    other two stay one person."""
    _listing(archive, dt.date(2019, 3, 4), "U1", ADAM)
    _listing(archive, dt.date(2019, 4, 4), "U2", BARRY)
    _listing(archive, dt.date(2019, 5, 4), "U3", dict(BARRY, forenames="Colin", surname="CRAIG"))
    R.run(archive, full=True)
    j1, j2, j3 = _complainants(archive)
    before = _persons(archive)
    assert before[j1] == before[j2] == before[j3]
    _expire(archive, tmp_path)
    C = TABLES["complainant"]
    with archive.engine.begin() as conn:
        conn.execute(sa.update(C).where(C.c.id == j2).values(token=None, bloom=None, initials_token=None))
    st = R.run(archive)
    p = _persons(archive)
    assert j2 not in p
    assert p[j1] == p[j3] == before[j1]
    assert st["complainants"]["kept_from_previous_run"] == 2


def test_links_of_another_rule_are_not_kept(archive, tmp_path, rare):
    """A run by the name rule (`link run --complainant-rule name`, for comparison) joins one name
    in one court whatever else the lists say; after the expiry the episode rule does not keep
    those links -- they were never its evidence -- and links again on what is left."""
    _listing(archive, dt.date(2019, 3, 4), "U1", ADAM, wording="Sexually assaulted [complainant]")
    _listing(archive, dt.date(2019, 4, 4), "U2", BARRY, wording="Sexually assaulted [complainant]")
    R.run(archive, full=True, complainant_rule="name")
    j1, j2 = _complainants(archive)
    assert _persons(archive)[j1] == _persons(archive)[j2]
    _expire(archive, tmp_path)
    st = R.run(archive)
    assert _persons(archive)[j1] != _persons(archive)[j2]
    assert st["complainants"]["nothing_kept"] == "the previous run linked by the name rule"


def test_kept_links_only_for_expired_evidence_and_linkable_mentions():
    """`kept_links`: the persons with an expired, linkable mention keep their linkable mentions;
    a person whose evidence is all in clear is linked again from scratch."""
    mentions = pl.DataFrame({"complainant_id": [1, 2, 3, 4, 5, 6],
                             "token": ["a", "a", None, "b", "b", "c"],
                             "expired": [True, False, True, False, False, None]})
    old = pl.DataFrame({"mention_id": [1, 2, 3, 4, 5, 6], "person_id": [10, 10, 10, 20, 20, 30],
                        "probability": [0.95, 0.95, 0.95, 0.95, 0.95, None]})
    k = V.kept_links(mentions, old)
    assert k["mention_id"].to_list() == [1, 2] and k["person_id"].to_list() == [10, 10]
    # the erased mention 3 alone expired: nothing of person 10 is kept
    k = V.kept_links(mentions.with_columns(pl.col("expired").fill_null(False) & (pl.col("complainant_id") == 3)), old)
    assert k.height == 0
