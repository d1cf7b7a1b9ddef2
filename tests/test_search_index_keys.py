"""The search index's stored keys of a name, built per word (`serve.search._stored_word_keys`): the
same keys, in the same order, as the per-name build they replaced; and no name or word of one left
in the process's memos after an index build."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from courtarchive.serve import search
from courtarchive.store import search as ss


def _name_keys_reference(name_norm: str) -> str:
    """The per-name build as it was (session 22)."""
    keys: set[str] = set()
    for w in name_norm.split():
        wk = search.word_keys(w)
        keys |= wk
        keys.update(ss.TRIGRAM_KEY + w[i:i + 3] for i in range(len(w) - 2))
        keys.update(ss.HEAD_KEY + k[1:3] for k in wk if k[0] == "e" and len(k) >= 3)
    return " ".join(sorted(keys))


NAMES = ["", "a", "jo", "ann", "smith", "john smith", "mary ann o'neill", "bob bob", "robert bob smyth",
         "siobhan odalaigh", "zoe", "ab cd ef", "jean-paul dupont", "x y z", "mohammed al hassan",
         "stephen steven thompson tomson"]


def test_stored_keys_equal_the_per_name_build():
    for raw in NAMES:
        name = " ".join(search.words(raw))
        assert search._name_keys(name) == _name_keys_reference(name), raw


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12), min_size=1, max_size=5))
def test_stored_keys_equal_the_per_name_build_on_random_names(ws):
    name = " ".join(ws)
    assert search._name_keys(name) == _name_keys_reference(name)


def test_an_index_build_leaves_no_name_in_the_memos(archive, keyring, standard_list):
    from courtarchive.ingest.pipeline import ingest

    f, _ = standard_list
    ingest(archive, [f], keyring=keyring, workers=1)
    r = search.rebuild(archive)
    assert r["added"] > 0
    for memo in (search._words_of, search._name_keys, search._stored_word_keys):
        assert memo.cache_info().currsize == 0, memo.__name__


def _search_keys(archive) -> dict[str, str]:
    with archive.engine.connect() as conn:
        return dict(conn.exec_driver_sql("SELECT name_norm, name_keys FROM search_key").fetchall())


def test_names_already_indexed_are_kept_and_new_ones_added(archive):
    """`_add_names` adds the names search_key lacks and leaves the others as they are (PostgreSQL:
    INSERT ... ON CONFLICT DO NOTHING; SQLite: a look-up, then the rows and their FTS postings)."""
    with ss.writer(archive) as conn:
        assert ss._add_names(archive, conn, {"ann smith": "k1", "bob jones": "k2"}) == 2
    with ss.writer(archive) as conn:
        # "bob jones" is there: its keys stay; "cy lee" is new
        assert ss._add_names(archive, conn, {"bob jones": "other", "cy lee": "k3"}) == 1
        assert ss._add_names(archive, conn, {"cy lee": "k3"}) == 0
    assert _search_keys(archive) == {"ann smith": "k1", "bob jones": "k2", "cy lee": "k3"}
    if archive.sqlite:      # each name once in each FTS table, under its row's id
        with archive.engine.connect() as conn:
            ids = {r[0] for r in conn.exec_driver_sql("SELECT id FROM search_key")}
            for t, _col in ss.FTS:
                assert {r[0] for r in conn.exec_driver_sql(f"SELECT rowid FROM {t}")} == ids
