"""The synthetic corpus generator (issue 4): determinism, schema validity of every list type,
variant rates, truth self-consistency, planted structure; a slow seed-scale run."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import orjson
import polars as pl
import pytest

from courtarchive.analyse import definitions
from courtarchive.generate import generate
from courtarchive.generate.lists import LIST_TYPES, SCHEMA_FILE, SENSITIVITY
from courtarchive.generate.names import Victim
from courtarchive.generate.offences import victim_fits
from courtarchive.generate.reference import Offence
from courtarchive.generate.truth import offences_frame, read_inputs

CATH = Path(__file__).resolve().parents[2] / "shared" / "cath"
N_SMALL = 900
RATES = {"name_variant": 0.3, "typo": 0.1, "middle_missing": 0.3, "middle_extra": 0.1,
         "name_swap": 0.05, "dob_swap": 0.3, "dob_missing": 0.2, "moved": 0.5}


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("corpus")
    summary = generate(out, cases=N_SMALL, seed=7)
    return out, summary


@pytest.fixture(scope="module")
def variant_corpus(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("variants")
    summary = generate(out, cases=1500, seed=11, years=3,
                       config={"variants": RATES, "reissue_rate": 0.1, "repeat_rate": 0.5})
    return out, summary


# ------------------------------------------------------------------ determinism
def test_same_seed_byte_identical(corpus, tmp_path):
    out, _ = corpus
    again = tmp_path / "again"
    generate(again, cases=N_SMALL, seed=7)
    a, b = _hashes(out), _hashes(again)
    assert a.keys() == b.keys()
    assert a == b


def test_rendering_process_byte_identical(tmp_path):
    """Lists rendered in a child process (workers=1) are the bytes rendered in-process."""
    a, b = tmp_path / "local", tmp_path / "child"
    sa = generate(a, cases=700, seed=5, years=1.5, workers=0, config={"reissue_rate": 0.1})
    sb = generate(b, cases=700, seed=5, years=1.5, workers=1, config={"reissue_rate": 0.1})
    assert sa["render_processes"] == 0 and sb["render_processes"] == 1
    ha, hb = _hashes(a), _hashes(b)
    assert ha.keys() == hb.keys()
    assert ha == hb


def test_different_seed_differs(corpus, tmp_path):
    out, _ = corpus
    other = tmp_path / "other"
    generate(other, cases=300, seed=8)
    a, b = _hashes(out), _hashes(other)
    assert a["truth.json"] != b["truth.json"]
    assert a.keys() != b.keys() or a != b


def test_exact_case_count_and_layout(corpus):
    out, s = corpus
    assert s["cases"] == N_SMALL
    cases = pl.read_parquet(out / "truth" / "cases.parquet")
    assert cases.height == N_SMALL and cases["case_id"].n_unique() == N_SMALL
    lists = sorted((out / "lists").rglob("*.json"))
    docs = [p for p in lists if not p.name.endswith(".meta.json")]
    assert len(docs) == s["files"] and len(lists) == 2 * s["files"]
    for p in docs[:50]:
        year, month = p.parent.parent.name, p.parent.name
        assert p.name.startswith(f"{year}-{month}-")
        assert p.with_name(p.name[:-5] + ".meta.json").exists()
    # lists hold realistic numbers of entries, not one
    assert s["entries"] / s["files"] >= 5


# ------------------------------------------------------------------ list validity
def _by_type(root: Path) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for meta in sorted((root / "lists").rglob("*.meta.json")):
        lt = orjson.loads(meta.read_bytes())["x-list-type"]
        out.setdefault(lt, []).append(meta.with_name(meta.name.replace(".meta.json", ".json")))
    return out


def test_every_list_type_valid_against_cath_schema(corpus):
    if not (CATH / "schemas").is_dir():
        pytest.skip(f"CaTH schemas not found at {CATH / 'schemas'}")
    from jsonschema import FormatChecker, validators
    out, _ = corpus
    files = _by_type(out)
    assert set(files) == set(LIST_TYPES), f"missing list types: {set(LIST_TYPES) - set(files)}"
    for lt, paths in files.items():
        schema = json.loads((CATH / "schemas" / SCHEMA_FILE[lt]).read_text())
        v = validators.validator_for(schema)(schema, format_checker=FormatChecker())
        step = max(1, len(paths) // 25)
        for p in paths[::step]:
            errors = list(v.iter_errors(orjson.loads(p.read_bytes())))
            assert not errors, f"{lt} {p.name}: {errors[0].message[:200]} at {list(errors[0].absolute_path)}"


def test_publication_metadata(corpus):
    out, _ = corpus
    keys = {"x-list-type", "x-sensitivity", "x-content-date", "x-court-id", "x-language",
            "x-display-from", "x-display-to", "x-provenance", "x-source-artefact-id", "x-type"}
    courts = {r["fact_court_id"] for r in
              pl.read_csv(Path(definitions.__file__).parents[1] / "data" / "courts.csv",
                          infer_schema_length=0).iter_rows(named=True)} | {"0"}
    ids = set()
    for meta in sorted((out / "lists").rglob("*.meta.json")):
        m = orjson.loads(meta.read_bytes())
        assert set(m) == keys
        assert m["x-sensitivity"] == SENSITIVITY[m["x-list-type"]]
        assert m["x-court-id"] in courts and m["x-language"] == "ENGLISH" and m["x-type"] == "LIST"
        assert meta.name.startswith(m["x-content-date"])
        ids.add(m["x-source-artefact-id"])
    assert len(ids) == len(list((out / "lists").rglob("*.meta.json")))


def test_output_ingests_with_matching_json_paths(corpus):
    cath = pytest.importorskip("courtarchive.ingest.cath")
    out, _ = corpus
    dm = pl.read_parquet(out / "truth" / "defendant_mentions.parquet")
    cm = pl.read_parquet(out / "truth" / "complainant_mentions.parquet")
    want_d = set(zip(dm["file"], dm["json_path"]))
    party = cm.filter(pl.col("kind") == "party")
    want_c = set(zip(party["file"], party["json_path"]))
    worded = cm.filter(pl.col("kind") != "party")
    want_o = set(zip(worded["file"], worded["json_path"]))
    got_d, got_c, got_o = set(), set(), set()
    for meta in sorted((out / "lists").rglob("*.meta.json")):
        doc = meta.with_name(meta.name.replace(".meta.json", ".json"))
        rel = str(doc.relative_to(out / "lists"))
        parsed = cath.parse_document(doc.read_bytes(), source_name=rel, headers=orjson.loads(meta.read_bytes()))
        got_d |= {(rel, p.json_path) for p in parsed.parties if p.role in ("DEFENDANT", "ACCUSED")}
        got_c |= {(rel, c.json_path) for c in parsed.raw_complainants}
        got_o |= {(rel, o.json_path) for o in parsed.offences}
    assert got_d == want_d
    assert got_c == want_c
    assert want_o <= got_o


# ------------------------------------------------------------------ truth
def test_truth_findings_recompute_exactly(corpus):
    out, _ = corpus
    truth = orjson.loads((out / "truth.json").read_bytes())
    inputs = read_inputs(out / "truth", offences_frame())
    for scope in (definitions.SCOPE_CSA, definitions.SCOPE_ALL):
        again = orjson.loads(orjson.dumps(definitions.findings(inputs, scope), option=orjson.OPT_NON_STR_KEYS))
        assert again == truth["findings"][scope]
    assert truth["generator"]["seed"] == 7 and truth["summary"]["cases"] == N_SMALL


def test_every_mention_references_truth(corpus):
    out, _ = corpus
    t = out / "truth"
    cases = pl.read_parquet(t / "cases.parquet")
    cd = pl.read_parquet(t / "case_defendants.parquet")
    oc = pl.read_parquet(t / "offence_complainants.parquet")
    dm = pl.read_parquet(t / "defendant_mentions.parquet")
    cm = pl.read_parquet(t / "complainant_mentions.parquet")
    assert set(dm["person_id"]) <= set(cd["defendant_id"])
    assert set(zip(dm["case_id"], dm["person_id"])) <= set(zip(cd["case_id"], cd["defendant_id"]))
    # a charge links its complainant only when a list identifies them (definitions.IDENTIFYING_KINDS)
    ident = cm.filter(pl.col("kind").is_in(["named", "initials", "party"]))
    base = {x.split("@")[0] for x in oc["complainant_id"]}
    assert set(ident["victim_id"]) <= base
    described_only = set(cm["victim_id"]) - set(ident["victim_id"])
    assert described_only and not (described_only & base)
    # shown only by initials in a case: identified within that case alone ("V@case")
    named_in = set(zip(cm.filter(pl.col("kind").is_in(["named", "party"]))["case_id"],
                       cm.filter(pl.col("kind").is_in(["named", "party"]))["victim_id"]))
    for case_id, cid in zip(oc["case_id"], oc["complainant_id"]):
        vid, _, scope = cid.partition("@")
        assert (scope == case_id) if (case_id, vid) not in named_in else (scope == "")
    assert set(dm["case_id"]) == set(cases["case_id"])            # every case is listed
    files = {str(p.relative_to(out / "lists")) for p in (out / "lists").rglob("*.json")}
    assert set(dm["file"]) <= files and set(cm["file"]) <= files
    # every (case, defendant, complainant) link is visible in some list
    seen = set(zip(ident["case_id"], ident["victim_id"]))
    assert {(c, v.split("@")[0]) for c, v in zip(oc["case_id"], oc["complainant_id"])} <= seen
    worded = cm.filter(pl.col("kind") != "party")
    assert set(worded["kind"]) <= {"named", "initials", "described"}


def _offences(doc):
    """Every (offenceCode, offenceWording) in a list document."""
    if isinstance(doc, dict):
        if "offenceCode" in doc and "offenceWording" in doc:
            yield doc["offenceCode"], doc["offenceWording"] or ""
        for v in doc.values():
            yield from _offences(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _offences(v)


def test_charges_fit_their_victim(corpus):
    """A charge's definition holds for its victim: no "girl aged 15" on a rape-of-a-child-under-13
    count, no boy on a girl's count, no 16- or 17-year-old on a ss.9-15 count (the wording's own
    descriptor, from the victim's date of birth and sex, must agree with what the offence says)."""
    o = Offence("SX03005A", "Attempt to rape a girl under 13", "Criminal Attempts Act 1981, s.1(1); Sexual "
                "Offences Act 2003, s.5(1)", "sexual", True, True, False, "indictable",
                "{complainant}, a girl under the age of 13", True)
    on = dt.date(2020, 6, 1)
    assert victim_fits(o, Victim("V1", "Amy", "Ash", "female", dt.date(2010, 1, 1)), on)
    assert not victim_fits(o, Victim("V2", "Amy", "Ash", "female", dt.date(2006, 1, 1)), on)    # 14
    assert not victim_fits(o, Victim("V3", "Ben", "Ash", "male", dt.date(2010, 1, 1)), on)      # a boy
    s9 = Offence("SX03009", "Sexual activity with a child", "Sexual Offences Act 2003, s.9(1)", "sexual",
                 True, True, False, "either", "{complainant}", True)
    assert victim_fits(s9, Victim("V4", "Cy", "Ash", "male", dt.date(2005, 1, 1)), on)           # 15
    assert not victim_fits(s9, Victim("V5", "Cy", "Ash", "male", dt.date(2003, 1, 1)), on)       # 17

    out, _ = corpus
    under13 = re.compile(r"\b(?:aged 1[3-7]|under 16|under 18)\b")
    under16 = re.compile(r"\b(?:aged 1[67]|person under 18)\b")
    seen = Counter()
    for f in (out / "lists").rglob("*.json"):
        for code, wording in _offences(orjson.loads(f.read_bytes())):
            base = code.rstrip("AC")
            if base in ("SX03005", "SX03105", "SX03006", "SX03007", "SX03008", "SX03108"):
                seen["under 13"] += 1
                assert not under13.search(wording), (code, wording)
            if base in ("SX03009", "SX03109", "SX03010", "SX03110", "SX03011", "SX03012", "SX03013",
                        "SX03014", "SX03015", "SX03515"):
                seen["under 16"] += 1
                assert not under16.search(wording), (code, wording)
            if base == "SX03005":
                assert not re.search(r"\bboy\b", wording), (code, wording)
            if base == "SX03105":
                assert not re.search(r"\bgirl\b", wording), (code, wording)
    assert seen["under 13"] > 20 and seen["under 16"] > 20, seen


def test_truth_is_as_listed(corpus):
    """The truth is what the lists show (see the truth module): every case listed in the period,
    SJP cases with no court town (SJP lists name no court), outcomes only from listed hearings."""
    out, s = corpus
    t = out / "truth"
    cases = pl.read_parquet(t / "cases.parquet")
    cd = pl.read_parquet(t / "case_defendants.parquet")
    end = pl.lit(s["period"]["end"]).str.to_date()
    assert s["unlisted_cases"] == 0
    assert cases.filter(pl.col("first_hearing_date") > end).height == 0
    assert cases.filter(pl.col("completion_date") > end).height == 0
    sjp = cases.filter(pl.col("kind") == "sjp")
    assert sjp.height > 0 and sjp["court_town"].null_count() == sjp.height
    assert sjp["court_pfa"].null_count() == sjp.height
    assert set(sjp["outcome"].drop_nulls()) == {"convicted"}          # SJP lists print no outcome
    assert "withdrawn" in set(sjp["actual_outcome"].drop_nulls())      # ... but some were withdrawn
    other = cases.filter(pl.col("kind") != "sjp")
    assert other["court_town"].null_count() == 0
    # a conviction is listed, and never after the end of the period
    assert cd.filter(pl.col("convicted") != pl.col("conviction_date").is_not_null()).height == 0
    assert cd.filter(pl.col("conviction_date") > end).height == 0


def test_planted_structure(corpus):
    out, s = corpus
    t = out / "truth"
    nets = pl.read_parquet(t / "networks.parquet")
    sizes = nets.group_by("network_id").agg(pl.col("defendant_id").n_unique().alias("n"))
    assert sizes.height >= 1 and sizes["n"].max() >= 3
    f = s["findings"]["child-sexual-abuse"]
    assert f["cases_with_network_3plus"] >= 1
    assert f["multi_defendant_cases"] >= 5
    assert f["victims_linked_to_2plus_defendants"] >= 5
    cases = pl.read_parquet(t / "cases.parquet")
    assert cases["completion_date"].null_count() > 0                    # some still open
    assert set(cases["outcome"].drop_nulls()) == {"convicted", "acquitted", "withdrawn"}
    assert cases.filter(pl.col("youth")).height > 0
    restrictions = set(cases["reporting_restriction"].drop_nulls())
    assert any("4(2)" in r for r in restrictions) or any("Section 45" in r for r in restrictions)
    # youths never on public lists
    dm = pl.read_parquet(t / "defendant_mentions.parquet")
    youth = set(cases.filter(pl.col("youth"))["case_id"])
    public = dm.filter(pl.col("list_type").is_in(["MAGISTRATES_PUBLIC_LIST", "SJP_PUBLIC_LIST"]))
    assert not youth & set(public["case_id"])
    # sexual offences take years, others weeks
    d = cases.with_columns((pl.col("first_hearing_date") - pl.col("offence_date")).dt.total_days().alias("d"))
    assert d.filter(pl.col("kind") == "csa")["d"].median() > 365
    assert d.filter(pl.col("kind") == "other")["d"].median() < 120


def test_variant_rates_as_configured(variant_corpus):
    out, _ = variant_corpus
    dm = pl.read_parquet(out / "truth" / "defendant_mentions.parquet").filter(~pl.col("masked"))
    for key, rate in RATES.items():
        col = dm[f"v_{key}"].drop_nulls()
        if key == "moved":      # drawn once per repeat case, not per mention
            col = (dm.filter(pl.col("v_moved").is_not_null()).unique(["person_id", "case_id"])["v_moved"])
        n = col.len()
        assert n >= 100, f"too few mentions where {key} can apply: {n}"
        got = col.sum() / n
        tol = 4 * (rate * (1 - rate) / n) ** 0.5 + 0.01
        assert abs(got - rate) <= tol, f"{key}: {got:.3f} vs configured {rate} (n={n})"


def test_reissued_lists_supersede(variant_corpus):
    out, s = variant_corpus
    assert s["reissued_lists"] > 0
    v2 = sorted((out / "lists").rglob("*_v2.json"))
    assert v2
    for p in v2[:20]:
        v1 = p.with_name(p.name.replace("_v2.json", ".json"))
        m1 = orjson.loads(v1.with_name(v1.name[:-5] + ".meta.json").read_bytes())
        m2 = orjson.loads(p.with_name(p.name[:-5] + ".meta.json").read_bytes())
        assert (m1["x-list-type"], m1["x-court-id"], m1["x-content-date"]) == \
            (m2["x-list-type"], m2["x-court-id"], m2["x-content-date"])
        assert m2["x-display-from"] > m1["x-display-from"]
        assert v1.read_bytes() != p.read_bytes()


# ------------------------------------------------------------------ seed scale
@pytest.mark.slow
def test_seed_scale_corpus(tmp_path):
    """The 25k-case seed corpus has the shape issue 6 is about.  (How fast it is generated --
    issue 4's minute -- is `bench/generate.py`'s figure, not a timed assertion here.)"""
    s = generate(tmp_path / "seed", cases=25_000, seed=1)
    f = s["findings"]["child-sexual-abuse"]
    # (seed 1's truth is 568 on the current generator, bench/RESULTS.md; the bound of 600 dated
    # from a generator that gave 1,079, and the slow run had not been run since it changed)
    assert 400 <= f["victims_linked_to_2plus_defendants"] <= 1800
    assert 10 <= f["cases_with_network_3plus"] <= 120
    assert 5 <= f["cases_with_network_5plus"] <= f["cases_with_network_3plus"]
    top = f["multi_defendant_cases_by_location"]
    assert top[0]["town"] == "Rochdale" and top[0]["multi_defendant_cases"] > 1.3 * top[1]["multi_defendant_cases"]
