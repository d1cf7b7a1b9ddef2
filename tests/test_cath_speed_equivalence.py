"""The CaTH parser's CPU work (issue 3: cheaper per hearing entry) changed nothing it makes.

`tests/test_ingest_equivalence.py` pins the parser's output on CaTH's examples and a generated
corpus: well-formed lists.  The fast paths of this work (plain ``str`` values, absent fields,
`msgspec.structs.replace` of a sitting's fields, `_Builder.add_party`, orjson reading the bytes,
a one-character pre-test before the markup regex) each have a slow path for everything else, so
these tests feed those paths what the corpus never holds:

* every record walker, on CaTH's examples with their values swapped at random for numbers,
  booleans, blanks, lists, objects, dates, complainant roles...: the records, warnings and
  complainants (or the exception) digested per example, recorded with the code *before* the
  change (`WALK_DIGESTS`; to record, run `walk_digests` with the old ``cath`` module);
* `_load` on bytes (the orjson fast path) against `_load` on the decoded text (the old path);
* `_guard`'s pre-test against the markup-hint regex it stands in front of.
"""

from __future__ import annotations

import copy
import hashlib
import random
from pathlib import Path

import msgspec
import orjson
import pytest
from hypothesis import given, settings, strategies as st

from courtarchive.ingest import cath
from courtarchive.ingest.errors import Rejected

EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "cath" / "examples"

#: what a value may become: the types JSON has, blanks and padding, and the strings the parser
#: reads specially (dates, times, yes/no, custody, complainant roles, line breaks)
POOL = (None, "", "   ", " padded ", 0, 42, -1, 3.5, True, False, [], [" a ", "", 5], {},
        {"caseNumber": " C1 "}, "2024-01-02", "13/01/2024", "2024-03-31T01:30:00Z", "not a date", "9am",
        "yes", "N", "In Custody", "VICTIM", "Complainant representative", "DEFENDANT", "ACCUSED",
        "Prosecutor", " two\r\n lines ", 200, "131")
VARIANTS = 25


def _mutate(node, rng: random.Random, p: float):
    """A copy of `node` with leaves (and, rarely, whole objects / arrays) swapped from POOL."""
    if isinstance(node, dict):
        if rng.random() < p / 10:
            return copy.deepcopy(rng.choice(POOL))
        return {k: _mutate(v, rng, p) for k, v in node.items()}
    if isinstance(node, list):
        if rng.random() < p / 10:
            return copy.deepcopy(rng.choice(POOL))
        return [_mutate(v, rng, p) for v in node]
    return copy.deepcopy(rng.choice(POOL)) if rng.random() < p else node


def _walk(mod, doc, name: str) -> bytes:
    """What `mod`'s walker for list type `name` makes of `doc` (no schema: the walk alone)."""
    lt = mod.LIST_TYPES[name]
    try:
        facts = lt.family.meta(doc)
        b = mod._Builder(facts.get("content_date"), facts.get("court_name"), facts.get("court_code"))
        lt.family.parse(doc, b)
        return msgspec.json.encode([facts, b.hearings, b.parties, b.offences, b.warnings, b.raw_complainants])
    except Exception as e:  # noqa: BLE001 -- a crash must stay the same crash
        return f"error:{type(e).__name__}:{e}".encode()


def _graft(doc: dict) -> dict:
    """`doc` (a courtLists list) with what its examples lack on every hearing: a note, channel,
    judiciary and panel, and an application (its first case, as an application, with a party)."""
    doc = copy.deepcopy(doc)
    for hearing in cath._hearings_of(doc):
        first = next(iter(hearing.get("case") or []), {})
        hearing.update(listNote=" note ", channel=["VIDEO", " "], panel="ADULT",
                       judiciary=[{"johKnownAs": "J One", "isPresiding": True}, {"johKnownAs": " "}])
        hearing.setdefault("application", []).append(dict(
            first, applicationReference=" A1 ", applicationType="Breach",
            party=(first.get("party") or []) + [{"partyRole": "PROSECUTOR",
                                                  "organisationDetails": {"organisationName": "CPS"}}]))
    return doc


def _examples() -> list[tuple[str, object, str]]:
    """(name, document, list type) of every shipped JSON example the parser accepts, and of each
    courtLists one also with `_graft`."""
    out = []
    for f in sorted(EXAMPLES.rglob("*.json")):
        try:
            parsed = cath.parse_document(f.read_bytes(), source_name=f.name)
        except Rejected:
            continue
        name, doc = f.relative_to(EXAMPLES).as_posix(), orjson.loads(f.read_bytes())
        out.append((name, doc, parsed.meta.list_type))
        if isinstance(doc, dict) and doc.get("courtLists"):
            out.append((name + "+graft", _graft(doc), parsed.meta.list_type))
    return out


def walk_digests(mod=cath) -> dict[str, str]:
    """Per example: one digest over `VARIANTS` mutated copies, walked by `mod`."""
    res = {}
    for name, doc, list_type in _examples():
        h = hashlib.sha256()
        for seed in range(VARIANTS):
            rng = random.Random(f"{name}:{seed}")
            h.update(_walk(mod, _mutate(doc, rng, p=0.1 + 0.4 * (seed % 3) / 2), list_type) + b"\n")
        res[name] = h.hexdigest()
    return res


#: recorded with src/courtarchive/ingest/cath.py as it was before this work
WALK_DIGESTS: dict[str, str] = {
    "crown-daily-pdda-list/crownDailyPddaList.json":
        "f9c7a52f97acab3982ccfc9b0f7ddc40a40c430aa0e2aff0c06cd785542bbdc9",
    "crown-firm-pdda-list/crownFirmPddaList.json":
        "6ce543d78d401a5f8fccb538680d7e19b8588dd122912f52df433e42ddde034b",
    "crown-warned-pdda-list/crownWarnedPddaList.json":
        "43b9c781d53366ea464e65d678fc5bdb57d151f7c0f948f6c89786c37a86e7c5",
    "et-fortnightly-press-list/etFortnightlyPressList.json":
        "b9a17254c3a8f29e36824a843f885cb0d8559a5d4e6de70cf61a944c58b38ef3",
    "et-fortnightly-press-list/etFortnightlyPressList.json+graft":
        "1e220cff8f5cb492b144ad1db326cc3696808c28884aee2a3669716ab15447fa",
    "et-fortnightly-press-list/etFortnightlyPressListWithNewLines.json":
        "25c048f0c569f5776c4819f09be7b214725f8cb082009c15c6cc49daf34b6b4e",
    "et-fortnightly-press-list/etFortnightlyPressListWithNewLines.json+graft":
        "6f8b3605db549f35fbb842d1f147526da8d1c8c4dda3683b7b859f3af5fabb55",
    "iac-daily-list/iacDailyList.json":
        "76b3f710ec645b4a82b79f193951694dd9d54796d91b1cb42b6cb069e53ef0d9",
    "iac-daily-list/iacDailyList.json+graft":
        "74abf69957aceb8a06b7357a55134de63d7a6ccd79b9d783eeda9a908a768746",
    "iac-daily-list/iacDailyListWithNewLines.json":
        "48b8c0d173fcc055904eb61c3da8fbd84b533575f1da52d8bb813675a7d53b10",
    "iac-daily-list/iacDailyListWithNewLines.json+graft":
        "22457ab260e6b8850430207f45a5a8f780896d410985c16e49914c736810cac5",
    "magistrates-adult-court-list/magistratesAdultCourtList.json":
        "b04c3fc448faff8a24418310fefdf61d23a3a7852cfba4f931ce5f4ae2866140",
    "magistrates-public-adult-court-list/magistratesPublicAdultCourtList.json":
        "efc866dfb11d782731fdf69952824d283b3974be9b22605c23d87c943b9fcc3e",
    "magistrates-public-list/magistratesPublicList.json":
        "88266d8d0066fc8f05fec735e609f09b080abd961099a0719cd78cff4fe1903a",
    "magistrates-public-list/magistratesPublicList.json+graft":
        "2187f853601db416119602d0f37da4a79dc94dff27fb7c823135715b7e2b1f1d",
    "magistrates-public-list/magistratesPublicListWithNewLines.json":
        "fc8ca11e12014a8905688c5d97f2e97fbc3e3468f93c75cdf507273d3dc8f4aa",
    "magistrates-public-list/magistratesPublicListWithNewLines.json+graft":
        "1abe04a9bc500c2323e234e2a1a2eeaee8c9e5204e51d4938a559c936a92529b",
    "magistrates-standard-list/magistratesStandardList.json":
        "24634c4bf53b3a5fb1fc002b0a89c1904891872d1d4b7a801ba4a359baf193a0",
    "magistrates-standard-list/magistratesStandardList.json+graft":
        "fdaa3fc6d1bf51c6ab689fb138a018119c1c588e33112cf1c5126b9eb4efae3e",
    "magistrates-standard-list/magistratesStandardListWithNewLines.json":
        "c9d305b5db55d443d3063ed673ae7a4ed5a8bd1f485a6499b544d37d48316c4d",
    "magistrates-standard-list/magistratesStandardListWithNewLines.json+graft":
        "45aa9f26c9c6fcabad4a39289131f11f8973bc2abb873c2197266ff6bca66ba6",
    "non-strategic/admiralty-court-kb-daily-cause-list/admiraltyCourtKbDailyCauseList.json":
        "08c5bd687d4a555eb7ed981bedeb1e8cc5d99615ceb5670fec946496e8965231",
    "non-strategic/ast-daily-hearing-list/astDailyHearingList.json":
        "f76f9d4b83b84b5f1b50357135a398ff9fbcaa6145e229e302c8ff0ceace52be",
    "non-strategic/business-list-chd-daily-cause-list/businessListChdDailyCauseList.json":
        "d4acc94d2f744e0ef384647dcb23227fc4478104469c3da25064857ffd2af5ba",
    "non-strategic/chancery-appeals-chd-daily-cause-list/chanceryAppealsChdDailyCauseList.json":
        "a7c20267609482a0fe803b5dac87b953d7b6e582bde185eaec483c6ae939368c",
    "non-strategic/cic-weekly-hearing-list/cicWeeklyHearingList.json":
        "b3ec8b2dac3aae896c1f8946db9ffe2598978e1da8d78538f738c7a86f6fae88",
    "non-strategic/commercial-court-kb-daily-cause-list/commercialCourtKbDailyCauseList.json":
        "f2f696e62a1e94052796a1902f0cb5b086cf889ef6c59889795a34c4a61410f3",
    "non-strategic/companies-winding-up-chd-daily-cause-list/companiesWindingUpChdDailyCauseList.json":
        "265cef8388c685d62bcc53e7402b658d43a60eddd985a69286864a203c38a9bf",
    "non-strategic/competition-list-chd-daily-cause-list/competitionListChdDailyCauseList.json":
        "e60a21a28b1bc333589f4e063959dd5b5416f0054a2a2e36b7da0a725690bd00",
    "non-strategic/court-of-appeal-civil-daily-cause-list/courtOfAppealCivilDailyCauseList.json":
        "0a3f6e95d41846144b0c7f659cc69db3b3b3b8b1ade929ff6ac30f7a18f8ce7d",
    "non-strategic/financial-list-chd-kb-daily-cause-list/financialListChdKbDailyCauseList.json":
        "9ac041cd0f80ade0249729d2bb9324884f4507f812557a896417f3f43aaac93b",
    "non-strategic/ftt-land-registry-tribunal-weekly-hearing-list/fttLandRegistryTribunalWeeklyHearingList.json":
        "3f9bf983b93cbc8ea13a56c6ed8f25fd0d80bcb289a9930f0c4e9a60da72127d",
    "non-strategic/ftt-tax-tribunal-weekly-hearing-list/fttTaxWeeklyHearingList.json":
        "c76a4d8882c36f7ef5595246fbe1f6627fc050d0255226ccc9fbd1fa98ccd1c8",
    "non-strategic/grc-weekly-hearing-list/grcWeeklyHearingList.json":
        "948438df52dd1ccc75c76f9a4f99666eaddb60252d28642c166defc839ff0545",
    "non-strategic/insolvency-and-companies-court-chd-daily-cause-list/insolvencyAndCompaniesCourtChdDailyCauseList.json":
        "eca06f46d28b34a9a949d9fcea47c7d01bd0713712e97c8e5ed7313e4343804b",
    "non-strategic/intellectual-property-and-enterprise-court-daily-cause-list/intellectualPropertyAndEnterpriseCourtDailyCauseList.json":
        "8ce3c263ec3a9b88bee279012a71572fba9cb3b12c9e2f3a430fb7db64b7edb8",
    "non-strategic/intellectual-property-list-chd-daily-cause-list/intellectualPropertyListChdDailyCauseList.json":
        "7072757298911271d1f6813a8e662f6b3b2efa8e51b09a9e28e5f96ff0594afe",
    "non-strategic/interim-applications-chd-daily-cause-list/interimApplicationsChanceryDivisionDailyCauseList.json":
        "de6bee457050ac90a671e1d7bc54cfe29b3a3a2cd23212ad6cb268603ce8a82d",
    "non-strategic/london-administrative-court-daily-cause-list/londonAdministrativeCourtDailyCauseList.json":
        "d9980f222dcc3ef1b0280b42de677fe64de91f64999f0706e90fd99377a9556f",
    "non-strategic/london-circuit-commercial-court-kb-daily-cause-list/londonCircuitCommercialCourtKbDailyCauseList.json":
        "d22c38a7ff4eb076cf57f4ea64c33371d5281de8a0b51a8a382fdff83d38d84e",
    "non-strategic/patents-court-chd-daily-cause-list/patentsCourtChdDailyCauseList.json":
        "e20f90c2563a26eea0f2f78c45152b569035c8ada311530b2b680b688a61784a",
    "non-strategic/pensions-list-chd-daily-cause-list/pensionsListChdDailyCauseList.json":
        "93f126f06366e2da7945ec57f0cd8b948bcd7728f74b6e1b54f32f6200ec5ab4",
    "non-strategic/property-trusts-probate-list-chd-daily-cause-list/propertyTrustsProbateListChdDailyCauseList.json":
        "540f7e868b1101deb4a5c6c2afb7943f87882601e016b89905e6a8b2f62432dd",
    "non-strategic/revenue-list-chd-daily-cause-list/revenueListChdDailyCauseList.json":
        "ba4a3cc6eb7929ce180b8a5407b60c70d7ece7d40bbed1e115f3bfcde7d5b3f6",
    "non-strategic/send-daily-hearing-list/sendDailyHearingList.json":
        "e05674cc999ce127dc867303ab790eb0ab51573a4703fe095b08c4dbf3d82be2",
    "non-strategic/technology-and-construction-court-kb-daily-cause-list/technologyAndConstructionCourtKbDailyCauseList.json":
        "1599c6935090e0f87cc4e8b6fd5da899a34d8bbc61454828daa58bd5ed024efa",
    "non-strategic/ut-administrative-appeals-chamber-daily-hearing-list/utAdministrativeAppealsChamberDailyHearingList.json":
        "0253dbc3ba80c13492a2698b00ce4b8542244c5eef86d830241c1af43468188d",
    "non-strategic/ut-iac-judicial-review-london-daily-hearing-list/utIacJudicialReviewLondonDailyHearingList.json":
        "25fb1163e05cad2a179b762247e660860fa8a4409acbd7b3112da1be6e1584df",
    "non-strategic/ut-iac-statutory-appeals-daily-hearing-list/utIacStatutoryAppealsDailyHearingList.json":
        "76e8bb96384b694706658e64798e8bbc3376bf430a631392c8c078a33a7fa740",
    "non-strategic/ut-lands-chamber-daily-hearing-list/utLandsChamberDailyHearingList.json":
        "10d333adec0b694068e5b0de4949c67f76d461a2126a900752a095a00f61b381",
    "non-strategic/ut-tax-and-chancery-chamber-daily-hearing-list/utTaxAndChanceryChamberDailyHearingList.json":
        "7101bb5f2528a6b3288f4e3508d336a2c6362b5d912eb96d36318688843d0f3a",
    "non-strategic/wpafcc-weekly-hearing-list/wpafccWeeklyHearingList.json":
        "f31fc1e96d02b14337f56790ce85fb046444530db0701b03b421bc81d0e93dcd",
    "sjp-press-list/sjpPressList.json":
        "e753c05074d4f546bbf532a1d191d921a43c4cc8e6e4d9195fc7d7d0eb211a42",
    "sjp-press-list/sjpPressList.json+graft":
        "5e07f61fcc06696b86869353c4caf73d2ee89de78cfb3f3d2469fbccf816a220",
    "sjp-press-list/sjpPressListWithNewLines.json":
        "921bb3fd139750847d4be53709a2452297810421f37f93fec0abbf400216ac52",
    "sjp-press-list/sjpPressListWithNewLines.json+graft":
        "2519e08e389d5d1aab05faaaaa8b3c72edd418da1a9e74d4e4c884cb5e8b7979",
    "sjp-public-list/sjpPublicList.json":
        "7d9bb731c2c8c0c62ab737d31d9ae90d515141c9a6a8e2e2b60632a2d8218cf0",
    "sjp-public-list/sjpPublicList.json+graft":
        "ff422887bb3952db3bc9e4387903a49a039b73ecbf474f81ffbef76ead5e6619",
    "sjp-public-list/sjpPublicListWithNewLines.json":
        "35939070099451eec2638d1fe2e69760d3febe5bc041f085f2f0e1845f16cdcd",
    "sjp-public-list/sjpPublicListWithNewLines.json+graft":
        "752e83985fba6e963dff8bf588dc94d683e8adae0a505db2886ead90c2ec8f2d",
    "sscs-daily-list/sscsDailyList.json":
        "bd1dd1934d090273552bb1b6d9f2d6b2d8fd551febebabce266ae455f1243188",
    "sscs-daily-list/sscsDailyList.json+graft":
        "36e09d58f35f2000c4473376271b3d38b8961f1d8d03d783fc5825068cea6b06",
    "sscs-daily-list/sscsDailyListWithNewLines.json":
        "372ac00720b32e0459bd0690960a8c4f45432b6aa0e7a160ae119e79729912d6",
    "sscs-daily-list/sscsDailyListWithNewLines.json+graft":
        "af4fd17065e5d073fb1f8adccdf94efc2706f01445f72b53123fa0260452ba88",
}


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason=f"CaTH examples not found at {EXAMPLES}")
def test_walkers_make_the_same_records_of_odd_values_as_before():
    got = walk_digests()
    assert len(got) >= 15
    assert got.keys() == WALK_DIGESTS.keys()
    differ = sorted(k for k in got if got[k] != WALK_DIGESTS[k])
    assert not differ, f"{len(differ)} of {len(got)} examples walk differently: {differ}"


# ----------------------------------------------------------------- _load: bytes vs text
_JSON_BITS = st.sampled_from([
    b'{"a": "x"}', b'[1, {"b": null}]', b'"top"', b"3", b"", b"   ", b"\n", b"{", b"}", b'{"a": "\xc3\xa9"}',
    b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xe2\x82",
    b"\xff", b"\xc2\xa0", b"\xe3\x80\x80", b'"\\ud800"', b'{"a": "\\u003cb\\u003e"}', b"\x00", b"nul",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(_JSON_BITS, st.binary(max_size=4)), max_size=4).map(b"".join))
def test_load_of_bytes_is_the_load_of_their_text(data):
    """The orjson fast path takes exactly the bytes the decode-then-parse path took, to the same
    document; everything else gets the same rejection as before (the text path's, or the decode's)."""
    def outcome(x):
        try:
            return ("ok", cath._load(x, 1 << 20)[0])
        except Rejected as e:
            return ("rejected", e.reason, e.json_path)

    got = outcome(data)
    try:
        text = cath.decode_utf8(data)
    except Rejected as e:
        want = ("rejected", "empty input", None) if not data.strip() else ("rejected", e.reason, e.json_path)
    else:     # the text path; its one leading U+FEFF dropped is the BOM the decode dropped before
        want = ("rejected", "empty input", None) if not data.strip() else outcome("\ufeff" + text)
    assert got == want


# ----------------------------------------------------------------- _guard's pre-test
_MARKED = {"a": "x</b>"}        # markup that `_guard` reports whenever the hint regex fires


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["<", ">", "&", "&lt;", "&#060;", "&#X3c;", "\\u003c", "\\U003C", "\\u0000",
                                  "\\u003", "\\n", "/", "b", "x", "é", " ", "\x00"]), max_size=6).map("".join))
def test_guard_pretest_lets_through_every_text_the_hint_regex_matches(text):
    want = ("$.a", "a closing HTML tag") if cath._MARKUP_HINT.search(text) else None
    assert cath._guard(_MARKED, text) == want
    assert cath._guard(_MARKED, text.encode("utf-8")) == want
