"""The ingest CPU work (bench/RESULTS.md, "Ingest CPU per entry") changed no output.

`tests/ingest_equivalence.json` holds, per file, a digest of what the parser and the intake gate
made of it -- canonical records before the gate, tokens, Bloom encodings, scrubbed wording and
free text after it, the gate report, or the rejection's reason and JSON path -- recorded with the
code *before* the change (`bench/ingest_equivalence.py record`).  Files: every shipped CaTH
example (the *Invalid* ones included) and a generated corpus (JSON and Excel lists).  The
generated corpus's digests are re-recorded only when the generator changes what it writes (last:
charges that fit their victim's age and sex, `generate.offences.victim_fits`), with the parser and
gate unchanged -- the examples' digests, which no generator change touches, still guard them.
Re-recorded too for the 25 Excel lists naming a complainant in offence wording, when the place of
such a mention became ``sheet List row N, column Offence wording`` (was ``....offenceWording``, a
JSON key after a spreadsheet row): with the old place put back, every digest was as recorded.
And for CaTH's non-strategic Excel example, whose rejection became "no worksheet holds a table in
a declared layout" at ``sheet 1`` (was "not a readable .xlsx workbook (ValueError)": a time cell
beside a heading label); with the old heading code put back, every digest was as recorded.
"""

from __future__ import annotations

import datetime as dt
import gc
import importlib.util
import json
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from courtarchive.governance import pseudonym
from courtarchive.governance.pseudonym import Keyring
from courtarchive.ingest import gate, pipeline

from test_gate_speed_equivalence import combining_class

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT.parent / "shared" / "cath" / "examples"
REFERENCE = json.loads((Path(__file__).with_name("ingest_equivalence.json")).read_text())


def _tool():
    spec = importlib.util.spec_from_file_location("ingest_equivalence", ROOT / "bench" / "ingest_equivalence.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    from courtarchive.generate.driver import generate

    out = tmp_path_factory.mktemp("equiv")
    generate(out, cases=300, seed=3, years=1, formats=("json", "xlsx"), workers=0)
    return out


def _check(got: dict[str, str]) -> None:
    assert got, "no files found"
    missing = sorted(set(got) - set(REFERENCE))
    assert not missing, f"files with no recorded digest: {missing[:5]}"
    differ = sorted(k for k in got if got[k] != REFERENCE[k])
    assert not differ, f"{len(differ)} of {len(got)} files parse or gate differently, e.g. {differ[:5]}"


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason=f"CaTH examples not found at {EXAMPLES}")
@pytest.mark.parametrize("memo", [False, True], ids=["one-list", "bulk-memo"])
def test_cath_examples_parse_and_gate_as_before(memo):
    got = _tool().digests([EXAMPLES], memo=memo)
    assert sum(1 for k in got if "Invalid" in k) >= 5      # the rejections are part of the comparison
    _check(got)


@pytest.mark.parametrize("memo", [False, True], ids=["one-list", "bulk-memo"])
def test_generated_corpus_parses_and_gates_as_before(corpus, memo):
    got = _tool().digests([corpus / "lists", corpus / "xlsx"], memo=memo)
    assert len(got) == sum(1 for k in REFERENCE if k.startswith(("lists/", "xlsx/")))
    _check(got)


# ----------------------------------------------------------------- worker -> writer wire format

def _results(corpus: Path) -> list[tuple]:
    keyring = Keyring(bytes(range(32)))
    threshold = gc.get_threshold()
    try:
        pipeline._init_worker(keyring.key, [], lambda h: None)
        assert gc.get_threshold() == pipeline.GC_THRESHOLD
        files = list(pipeline.iter_input_files([corpus / "lists"]))[:60] + list(pipeline.iter_input_files([EXAMPLES]))
        return [pipeline._prepare((str(f), {}, None, 1 << 28)) for f in files]
    finally:
        gc.set_threshold(*threshold)


def test_wire_round_trip_is_exact_and_uses_msgpack(corpus):
    kinds = set()
    n = 0
    for res in _results(corpus):
        data = pipeline.dump_result(res)
        back = pipeline.load_result(data)
        assert back == res
        if res[2] is not None:
            n += 1
            assert data[:1] == b"M"                       # accepted lists go as msgpack, not pickle
            assert all(type(a) is type(b) for a, b in zip(back[2].hearings, res[2].hearings))
            assert type(back[4]) is gate.GateReport and back[4].unparsed_total == res[4].unparsed_total
        kinds.add("ok" if res[2] is not None else "rejected" if res[3] else "duplicate")
    assert n > 50 and {"ok", "rejected"} <= kinds


def test_wire_duplicate_and_rejection():
    for res in (("/x/a.json", "ab" * 32, None, None, 17), ("/x/b.json", None, None, ("bad date", "$.x"), None)):
        data = pipeline.dump_result(res)
        assert data[:1] == b"M" and pipeline.load_result(data) == res


def test_wire_falls_back_to_pickle_when_msgpack_would_change_a_value(corpus):
    import msgspec

    res = next(r for r in _results(corpus) if r[2] is not None and r[2].hearings)
    parsed = res[2]
    # an aware date-time (msgpack would bring it back in UTC: equal, not the same) ...
    aware = msgspec.structs.replace(parsed, meta=msgspec.structs.replace(
        parsed.meta, published_at=dt.datetime(2024, 5, 1, 9, tzinfo=dt.timezone(dt.timedelta(hours=1)))))
    # ... and a date-time where a date is declared (msgpack would refuse or change it)
    hearings = [msgspec.structs.replace(parsed.hearings[0], sitting_date=dt.datetime(2024, 5, 1, 10))]
    odd_type = msgspec.structs.replace(parsed, hearings=hearings + parsed.hearings[1:])
    for p in (aware, odd_type):
        r = res[:2] + (p,) + res[3:]
        data = pipeline.dump_result(r)
        assert data[:1] == b"P"
        back = pipeline.load_result(data)
        assert back == r
        assert repr(back[2].meta.published_at) == repr(p.meta.published_at)
        assert type(back[2].hearings[0].sitting_date) is type(p.hearings[0].sitting_date)


# ----------------------------------------------------------------- the helpers made faster

def _old_fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold().translate(pseudonym._SPECIAL))
    return "".join(c for c in text if not unicodedata.combining(c))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30) | st.text(alphabet=st.characters(max_codepoint=127), max_size=30))
def test_fold_is_the_old_definition(text):
    assert pseudonym._fold(text) == _old_fold(text)


def test_combining_class_is_every_combining_code_point():
    pattern = combining_class()
    want = {cp for cp in range(0x300, sys.maxunicode + 1) if unicodedata.combining(chr(cp))}
    got = {cp for cp in range(0x300, sys.maxunicode + 1) if pattern.fullmatch(chr(cp))}
    assert got == want


def test_identity_memo_is_per_keyring():
    a, b = Keyring(bytes(range(32))), Keyring(bytes(range(1, 33)))
    ia = gate._identity_memo(a, "named", "Jane SMITH", "urn:X")
    ib = gate._identity_memo(b, "named", "Jane SMITH", "urn:X")
    assert ia.token == a.token("complainant", pseudonym.normalise_name("Jane SMITH")) != ib.token
    assert ia.bloom == a.bloom("Jane SMITH") != ib.bloom
    gate.forget()


def _memo_sizes() -> list[int]:
    return [m.cache_info().currsize for m in (gate._extracted, gate._identity_memo, gate._name_pattern, gate._compile)]


def test_gate_keeps_no_cleartext_past_a_list_or_an_ingest(tmp_path):
    """The memos hold complainant names in clear: filled only by a bulk ingest, emptied after it."""
    from courtarchive.store import Archive

    gate.forget()
    keyring = Keyring(bytes(range(32)))
    f = next(pipeline.iter_input_files([EXAMPLES / "sjp-press-list"]))
    parsed = pipeline.parse_file(f.read_bytes(), source_name=f.name, headers={}, list_type=None,
                                 fmt="cath-json", max_bytes=1 << 28)
    gate.apply(parsed, keyring)                              # mail intake, one list: nothing kept
    assert _memo_sizes() == [0, 0, 0, 0]
    gate.apply(pipeline.parse_file(f.read_bytes(), source_name=f.name, headers={}, list_type=None,
                                   fmt="cath-json", max_bytes=1 << 28), keyring, memo=True)
    assert sum(_memo_sizes()) > 0
    gate.forget()
    a = Archive.open(f"sqlite:///{tmp_path}/a.db")
    a.init()
    rep = pipeline.ingest(a, [EXAMPLES / "sjp-press-list"], keyring=keyring)
    assert rep.accepted and _memo_sizes() == [0, 0, 0, 0]


def test_ingest_restores_the_gc_thresholds(tmp_path):
    from courtarchive.store import Archive

    a = Archive.open(f"sqlite:///{tmp_path}/a.db")
    a.init()
    before = gc.get_threshold()
    rep = pipeline.ingest(a, [EXAMPLES / "sjp-press-list"], keyring=Keyring(bytes(range(32))))
    assert rep.files and gc.get_threshold() == before


def test_a_long_wording_is_gated_but_never_memoised():
    """The extraction memo holds wordings in clear: one longer than MEMO_WORDING_MAX is extracted
    and scrubbed as any other, and not kept (the memo's memory stays bounded)."""
    f = next(pipeline.iter_input_files([EXAMPLES / "sjp-press-list"]))
    keyring = Keyring(bytes(range(32)))

    def parsed_with(wording: str):
        p = pipeline.parse_file(f.read_bytes(), source_name=f.name, headers={}, list_type=None,
                                fmt="cath-json", max_bytes=1 << 28)
        assert p.offences
        for o in p.offences:                 # this one wording alone
            o.wording = None
        p.offences[0].wording = wording
        return p

    long = ("On 01/02/2024 at Rochdale assaulted Jane WREXLEY by beating her. " * 80)
    assert len(long) > gate.MEMO_WORDING_MAX
    short = "On 01/02/2024 at Rochdale assaulted Jane WREXLEY by beating her."
    gate.forget()
    try:
        plain = parsed_with(long)
        gate.apply(plain, keyring)
        before = gate._extracted.cache_info().currsize
        memoised = parsed_with(long)
        gate.apply(memoised, keyring, memo=True)
        assert gate._extracted.cache_info().currsize == before      # the long wording: not kept
        assert "WREXLEY" not in memoised.offences[0].wording
        assert memoised.offences[0].wording == plain.offences[0].wording
        gate.apply(parsed_with(short), keyring, memo=True)
        assert gate._extracted.cache_info().currsize == before + 1  # a short one is
    finally:
        gate.forget()
