"""The link stage's reads (issue 9: linkage overhead at scale): the store's Arrow reader
(`Archive.query_batches`, under every link, analysis and export read) converts a batch of rows with
one Arrow call instead of a Python list and an Arrow array per column, and the tables are the ones
the per-column reader gave -- columns, types, order, values; the complainants' stage reuses what
the defendants' stage read (review decisions, previous persons) instead of reading it again.

``archive``: conftest's (SQLite and, with COURTARCHIVE_TEST_PG, PostgreSQL)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from courtarchive.link import run as R
from courtarchive.store import Archive
from courtarchive.store import linkage as store
from test_link_run import corpus, load  # noqa: F401  (corpus: the module fixture)


@pytest.fixture
def linked(archive, corpus):  # noqa: F811
    """300 mentions, some complainants named (token, Bloom bytes), some described, linked twice
    with a reviewer's decision between the runs (persons, networks, decisions all present)."""
    rows = [dict(r, victim="Jane Doe" if i % 14 == 0 else r["victim"]) for i, r in enumerate(corpus[:300])]
    load(archive, rows)
    R.run(archive, full=True)
    a, b = store.defendant_mentions(archive)["party_id"].to_pylist()[:2]
    store.add_review_decision(archive, a, b, "different", "alice")
    return archive


def _per_column_batches(self, query, schema: pa.Schema, *, batch_size: int = 100_000):
    """The reader before: a Python list and an Arrow array per column of each batch."""
    compiled = query.compile(dialect=self.engine.dialect, compile_kwargs={"literal_binds": True})
    with self.engine.connect() as conn:
        cur = conn.connection.driver_connection.cursor()
        cur.execute(str(compiled))
        while rows := cur.fetchmany(batch_size):
            yield pa.RecordBatch.from_arrays([pa.array([r[i] for r in rows], self._wire_type(f.type)).cast(f.type)
                                              for i, f in enumerate(schema)], schema=schema)
        cur.close()


READS = {
    "defendant_mentions": lambda a: store.defendant_mentions(a),
    "complainant_mentions": lambda a: store.complainant_mentions(a),
    "complainant_case_offences": lambda a: store.complainant_case_offences(a),
    "provenance_defendant": lambda a: store.mention_provenance(a, "defendant"),
    "provenance_complainant": lambda a: store.mention_provenance(a, "complainant"),
    "persons_defendant": lambda a: store.person_assignments(a, "defendant"),
    "persons_complainant": lambda a: store.person_assignments(a, "complainant"),
    "network_members": lambda a: store.network_state(a)[1],
}


def test_link_reads_equal_the_per_column_reader(linked, monkeypatch):
    """Every link read gives the table the per-column reader gave (dates, booleans, floats,
    binary Bloom encodings and nulls included, sorted by mention id)."""
    with monkeypatch.context() as m:
        m.setattr(Archive, "query_batches", _per_column_batches)
        old = {k: f(linked) for k, f in READS.items()}
    new = {k: f(linked) for k, f in READS.items()}
    for k in READS:
        assert old[k].num_rows > 0, k
        assert new[k].schema == old[k].schema, k
        assert new[k].equals(old[k]), k
    d = new["defendant_mentions"]
    assert d["party_id"].to_pylist() == sorted(d["party_id"].to_pylist())
    c = new["complainant_mentions"]
    assert c["bloom"].null_count < c.num_rows and c["raw_expired"].type == pa.bool_()


def test_the_complainants_stage_reuses_the_defendants_reads(linked, monkeypatch):
    """A run reads the previous defendant persons once (it read them for the defendants, again
    for the complainants' decisions check and again to write them) and each kind's persons once
    (again to write them); the decisions twice (the defendants, and the review queue as it is
    written), no longer a third time for the complainants.  What is linked is unchanged
    (tests/test_link_*.py)."""
    reads: list[str] = []
    pa_real, rd_real = store.person_assignments, store.review_decisions
    monkeypatch.setattr(store, "person_assignments", lambda a, kind: reads.append(kind) or pa_real(a, kind))
    monkeypatch.setattr(store, "review_decisions", lambda a: reads.append("decisions") or rd_real(a))
    st = R.run(linked, full=True)
    assert st["defendants"]["decisions_applied"] == 1
    assert sorted(reads) == ["complainant", "decisions", "decisions", "defendant"]
