"""Erasure (UK GDPR Art 17) of complainant mentions -- pseudonymised at intake, so erasing one unlinks
it: no token, Bloom encoding or descriptor left, its label in the list's text neutral, no person --
and the refusal to rectify one (nothing is held in clear to correct)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from courtarchive.governance import compliance, holds, rights
from courtarchive.governance.profile import load
from courtarchive.governance.pseudonym import Keyring
from courtarchive.ingest import gate
from courtarchive.model import Hearing, Offence, ParsedList, Party, PublicationMeta
from courtarchive.store import governance as sg
from test_governance_cli import _error, cli  # noqa: F401  (the fixture: the CLI over an initialised archive)
from test_governance_compliance import cli_env  # noqa: F401
from test_governance_support import rows

KR = Keyring(bytes(range(32)))
D = dt.date
VOSSBERG = "Henrietta Vossberg"


def _list(archive, *, date, urn, defendant, wordings, note=None, detail=None):
    """A list of one hearing, one defendant and an offence per wording, through the intake gate (as
    ingest does): the complainants the wordings name become complainant rows, and their names in
    the list note and the offences' restriction detail become labels too."""
    p = ParsedList(meta=PublicationMeta(list_type="MAGISTRATES_STANDARD_LIST", sensitivity="CLASSIFIED",
                                        court_name="Preston Magistrates' Court", content_date=date, version="1",
                                        published_at=dt.datetime.combine(date, dt.time(8)),
                                        source_name=f"gated-{urn}.json"))
    p.hearings.append(Hearing(json_path="$.h[0]", court_name="Preston Magistrates' Court", sitting_date=date,
                              case_urn=urn, list_note=note))
    p.parties.append(Party(json_path="$.h[0].p[0]", hearing_ref=0, role="DEFENDANT", forenames=defendant[0],
                           surname=defendant[1], name_as_listed=f"{defendant[1]}, {defendant[0]}"))
    for i, w in enumerate(wordings):
        p.offences.append(Offence(json_path=f"$.h[0].p[0].o[{i}]", party_ref=0, seq=i + 1, code="SX03001",
                                  title="Sexual assault", wording=w, reporting_restriction=bool(detail),
                                  reporting_restriction_detail=detail))
    gate.apply(p, KR)
    return archive.write(p, content_hash=f"gated-{urn}")


def _mentions(archive, urn) -> list[dict]:
    case = next(c["id"] for c in rows(archive, "case") if c["urn"] == urn)
    return rows(archive, "complainant", case_id=case)


def _link(archive, persons: dict[int, tuple[str, list[int]]]) -> None:
    """What the link stage stores: persons (id -> kind, mention ids) and their mentions."""
    with archive.engine.begin() as c:
        n = 0
        for pid, (kind, ids) in persons.items():
            c.execute(sa.insert(sg.T["person"]).values(id=pid, kind=kind, mentions=len(ids)))
            for m in ids:
                n += 1
                c.execute(sa.insert(sg.T["person_mention"]).values(
                    id=n, person_id=pid, kind=kind, **{"party_id" if kind == "defendant" else "complainant_id": m}))


def _erasure(archive, name=VOSSBERG, decision="comply") -> dict:
    req = rights.open_request(archive, kind="erasure", name=name, keyring=KR, actor="dpo")
    rights.decide(archive, req["id"], decision=decision, reasons="identity checked with the complainant", actor="dpo")
    return req


def _offences(archive, urn) -> list[dict]:
    case = next(c["id"] for c in rows(archive, "case") if c["urn"] == urn)
    return rows(archive, "offence", case_id=case)


def _linked_defendants(archive) -> int:
    """Complainants the analysis counts as linked to two or more defendants (stored linkage)."""
    from courtarchive.analyse.definitions import victims_linked_to_2plus_defendants
    from courtarchive.analyse.inputs import build_inputs, load_raw
    from courtarchive.store import linkage as L

    ids = {f"person_{k[0]}": L.person_assignments(archive, k).select(["mention_id", "person_id"])
           for k in ("defendant", "complainant")}
    data = build_inputs(load_raw(archive, with_paths=False), ids=ids, mode="linkage")
    return victims_linked_to_2plus_defendants(data.inputs.offence_complainants)


# --------------------------------------------------------------------------- erasure
def test_erasing_a_complainant_mention_unlinks_it(archive):
    _list(archive, date=D(2025, 5, 1), urn="06ZZ1000001", defendant=("Ambrose", "PELLINGHAM"),
          wordings=["On 01/03/2025 at Preston assaulted Henrietta VOSSBERG and Ottoline GRISEDALE by beating them."],
          note="Henrietta VOSSBERG to give evidence by live link",
          detail="Sexual Offences (Amendment) Act 1992 s.1: Henrietta VOSSBERG")
    _list(archive, date=D(2025, 5, 2), urn="06ZZ1000002", defendant=("Barnaby", "QUILLFEATHER"),
          wordings=["On 02/03/2025 at Preston sexually assaulted Henrietta VOSSBERG, a girl aged 15."])
    mine, other = _mentions(archive, "06ZZ1000001")                  # VOSSBERG, GRISEDALE
    [second] = _mentions(archive, "06ZZ1000002")                     # VOSSBERG again, another case
    assert mine["token"] == second["token"] and mine["bloom"] and mine["initials_token"]
    label = mine["token"][:8]
    defendants = sorted(p["id"] for p in rows(archive, "party"))
    _link(archive, {1: ("complainant", [mine["id"], second["id"]]), 2: ("complainant", [other["id"]]),
                    3: ("defendant", defendants[:1]), 4: ("defendant", defendants[1:])})
    assert _linked_defendants(archive) == 1                          # one victim linking two defendants
    req = _erasure(archive)
    assert req["complainant_ids"] == [mine["id"], second["id"]] and req["party_ids"] == []

    out = rights.erase(archive, complainant_ids=[mine["id"]], keyring=KR, actor="dpo", request_id=req["id"])

    assert out["complainants"] == 1 and out["parties"] == 0 and out["complete"] is True
    [erased] = rows(archive, "complainant", id=mine["id"])
    assert all(erased[f] is None for f in ("token", "key_id", "initials_token", "bloom", "descriptor"))
    assert (erased["kind"], erased["evidence"]) == (mine["kind"], mine["evidence"])
    # its label leaves the list's text; the other complainant's stays
    [off] = _offences(archive, "06ZZ1000001")
    [hearing] = rows(archive, "hearing", id=mine["hearing_id"])
    assert off["wording"] == (f"On 01/03/2025 at Preston assaulted [complainant] and [complainant:{other['token'][:8]}]"
                              " by beating them.")
    assert off["reporting_restriction_detail"] == "Sexual Offences (Amendment) Act 1992 s.1: [complainant]"
    assert hearing["list_note"] == "[complainant] to give evidence by live link"
    # unlinked: no person, no longer found by the name, no longer linking the two defendants
    assert [r["complainant_id"] for r in rows(archive, "person_mention", person_id=1)] == [second["id"]]
    assert _linked_defendants(archive) == 0
    assert rights.find(archive, name=VOSSBERG, keyring=KR, actor="dpo")["complainant_ids"] == [second["id"]]
    # nothing else changed: the same person's mention not named, the other complainant
    assert rows(archive, "complainant", id=second["id"]) == [second]
    assert rows(archive, "complainant", id=other["id"]) == [other]
    assert f"[complainant:{label}]" in _offences(archive, "06ZZ1000002")[0]["wording"]
    # audited by id and count, never a value; the run's proof chains the commit's digest
    [ev] = rows(archive, "audit_event", action="erase")
    assert f"complainant:{mine['id']}" in ev["object"] and ev["details"]["complainants"] == 1
    assert ev["details"]["complainant_person_mentions_deleted"] == 1
    assert mine["token"] not in str(ev) and label not in str(ev) and "vossberg" not in str(ev).lower()
    [run] = rows(archive, "retention_run")
    assert run["kind"] == "erase" and run["proof_hash"] == out["proof_hash"] != sg.GENESIS
    assert compliance.build(archive, as_of=D(2025, 6, 1))["deletions"]["all_proofs_verified"] is True
    got = sg.get_rights_request(archive, req["id"])
    assert got["status"] == "done" and got["found"]["erasure"]["erased_complainant_ids"] == [mine["id"]]


def test_a_label_goes_only_where_no_mention_left_carries_it(archive, tmp_path):
    """Two counts naming one complainant: erasing one count's mention clears its own wording; the
    other count and the hearing's note keep the label until that mention is erased too -- then no
    copy of the token or its label is left anywhere, the exports cache included."""
    _list(archive, date=D(2025, 5, 1), urn="06ZZ2000001", defendant=("Ambrose", "PELLINGHAM"),
          wordings=["On 01/03/2025 at Preston assaulted Henrietta VOSSBERG by beating her.",
                    "On 02/03/2025 at Preston assaulted Henrietta VOSSBERG by beating her."],
          note="Henrietta VOSSBERG to give evidence by live link")
    first, second = _mentions(archive, "06ZZ2000001")
    token, label = first["token"], f"[complainant:{first['token'][:8]}]"
    old_export = tmp_path / "exports" / "case.csv"                   # an export made before the erasure
    old_export.parent.mkdir()
    old_export.write_text(label)
    prof = load(home=tmp_path)

    req = _erasure(archive)
    out = rights.erase(archive, complainant_ids=[first["id"]], keyring=KR, actor="dpo", request_id=req["id"],
                       profile=prof, home=tmp_path)
    one, two = _offences(archive, "06ZZ2000001")
    assert one["wording"] == "On 01/03/2025 at Preston assaulted [complainant] by beating her."
    assert label in two["wording"] and label in rows(archive, "hearing")[0]["list_note"]
    assert out["derived_stores"]["courtarchive.governance.hooks:exports_cache"]["purged"] == 1
    assert not old_export.exists()

    req = _erasure(archive)
    assert req["complainant_ids"] == [second["id"]]
    rights.erase(archive, complainant_ids=[second["id"]], keyring=KR, actor="dpo", request_id=req["id"],
                 profile=prof, home=tmp_path)
    assert label not in _offences(archive, "06ZZ2000001")[1]["wording"]
    assert rows(archive, "hearing")[0]["list_note"] == "[complainant] to give evidence by live link"
    if archive.sqlite:
        data = Path(archive.engine.url.database).read_bytes()
        assert token.encode() not in data and label.encode() not in data
    else:
        assert not [v for _, _, v in sg.all_text_values(archive) if token in v or label in v]


def test_a_held_complainant_mention_stays_pending(archive):
    """A hold on the case, then one on the complainant person: the mention is kept and the request
    stays pending; a run after the release erases it without naming it again."""
    _list(archive, date=D(2025, 5, 1), urn="06ZZ3000001", defendant=("Ambrose", "PELLINGHAM"),
          wordings=["On 01/03/2025 at Preston assaulted Henrietta VOSSBERG by beating her."])
    [mine] = _mentions(archive, "06ZZ3000001")
    _link(archive, {7: ("complainant", [mine["id"]])})
    req = _erasure(archive)
    case_hold = holds.add(archive, scope="case", ref="06ZZ3000001", reason="appeal", authority="court order",
                          actor="dpo")
    out = rights.erase(archive, complainant_ids=[mine["id"]], keyring=KR, actor="dpo", request_id=req["id"])
    assert out["complainants"] == 0 and out["held_complainants"] == {str(case_hold): 1}
    assert out["complete"] is False and out["pending_complainant_ids"] == [mine["id"]]
    assert rows(archive, "complainant", id=mine["id"]) == [mine]
    assert f"[complainant:{mine['token'][:8]}]" in _offences(archive, "06ZZ3000001")[0]["wording"]
    got = sg.get_rights_request(archive, req["id"])
    assert got["status"] == "decided" and got["found"]["erasure"]["pending_complainants"] == {str(mine["id"]): case_hold}
    holds.release(archive, case_hold, actor="dpo")
    person_hold = holds.add(archive, scope="person", ref="7", reason="claim", authority="court order", actor="dpo")
    out = rights.erase(archive, keyring=KR, actor="dpo", request_id=req["id"])       # the pending one, not named
    assert out["held_complainants"] == {str(person_hold): 1} and out["complete"] is False
    holds.release(archive, person_hold, actor="dpo")
    out = rights.erase(archive, keyring=KR, actor="dpo", request_id=req["id"])
    assert out["complainants"] == 1 and out["complete"] is True
    assert rows(archive, "complainant", id=mine["id"])[0]["token"] is None
    assert sg.get_rights_request(archive, req["id"])["status"] == "done"


def test_erasure_of_complainant_mentions_stays_within_the_request(archive):
    _list(archive, date=D(2025, 5, 1), urn="06ZZ4000001", defendant=("Ambrose", "PELLINGHAM"),
          wordings=["On 01/03/2025 at Preston assaulted Henrietta VOSSBERG and Ottoline GRISEDALE by beating them."])
    mine, other = _mentions(archive, "06ZZ4000001")
    req = _erasure(archive)
    with pytest.raises(rights.Refused, match=f"complainant mention.s. {other['id']} are not among those request"):
        rights.erase(archive, complainant_ids=[mine["id"], other["id"]], keyring=KR, actor="dpo", request_id=req["id"])
    # found by a name alone (a namesake's would match): erased only when named
    with pytest.raises(rights.RightsError, match="--complainant ID") as e:
        rights.erase(archive, keyring=KR, actor="dpo", request_id=req["id"])
    assert type(e.value) is rights.RightsError                                        # bad input, exit 2
    assert rows(archive, "complainant") == [mine, other]
    assert rows(archive, "retention_run") == [] and rows(archive, "audit_event", action="erase") == []
    # an objection upheld is carried out by erasure: complainant mentions included
    obj = rights.open_request(archive, kind="objection", name=VOSSBERG, keyring=KR, actor="dpo")
    rights.decide(archive, obj["id"], decision="partial", reasons="no overriding grounds", actor="dpo")
    assert rights.erase(archive, complainant_ids=[mine["id"]], keyring=KR, actor="dpo",
                        request_id=obj["id"])["complete"] is True
    assert rows(archive, "complainant", id=mine["id"])[0]["token"] is None


def test_rectifying_a_complainant_mention_is_refused(archive):
    _list(archive, date=D(2025, 5, 1), urn="06ZZ5000001", defendant=("Ambrose", "PELLINGHAM"),
          wordings=["On 01/03/2025 at Preston assaulted Henrietta VOSSBERG by beating her."])
    [mine] = _mentions(archive, "06ZZ5000001")
    req = rights.open_request(archive, kind="rectification", name=VOSSBERG, keyring=KR, actor="dpo")
    rights.decide(archive, req["id"], decision="comply", reasons="checked", actor="dpo")
    with pytest.raises(rights.Refused, match="hold nothing in clear that could be corrected.*rights erase N "
                                             "--complainant ID"):
        rights.rectify(archive, [], complainant_ids=[mine["id"]], field="surname", value="VOSSBURG", actor="dpo",
                       request_id=req["id"])
    assert rows(archive, "complainant") == [mine] and rows(archive, "audit_event", action="rectify") == []


# --------------------------------------------------------------------------- the command line
def test_complainant_erasure_from_the_command_line(cli):
    a = cli.archive
    _list(a, date=D(2025, 5, 1), urn="06ZZ6000001", defendant=("Ambrose", "PELLINGHAM"),
          wordings=["On 01/03/2025 at Preston assaulted Henrietta VOSSBERG by beating her."])
    [mine] = _mentions(a, "06ZZ6000001")
    # rectifying one is refused in one sentence, exit 3 (the policy: nothing held in clear to correct)
    rect = orjson.loads(cli("rights", "open", "--kind", "rectification", "--name", VOSSBERG, "--actor", "dpo",
                            "--json").stdout)
    cli("rights", "decide", rect["id"], "--decision", "comply", "--reasons", "checked", "--actor", "dpo")
    assert "hold nothing in clear" in _error(cli("rights", "rectify", rect["id"], "--complainant", mine["id"],
                                                 "--field", "surname", "--value", "X", code=3))
    assert rows(a, "complainant") == [mine]
    req = orjson.loads(cli("rights", "open", "--kind", "erasure", "--name", VOSSBERG, "--actor", "dpo",
                           "--json").stdout)
    cli("rights", "decide", req["id"], "--decision", "comply", "--reasons", "checked", "--actor", "dpo")
    assert "--complainant ID" in _error(cli("rights", "erase", req["id"], code=2))
    assert "not among those request" in _error(cli("rights", "erase", req["id"], "--complainant", mine["id"] + 99,
                                                   code=3))
    cli("hold", "add", "--scope", "case", "--ref", "06ZZ6000001", "--reason", "appeal", "--authority", "court order",
        "--actor", "dpo")
    r = cli("rights", "erase", req["id"], "--complainant", mine["id"], "--actor", "dpo", code=1)
    assert "nothing erased: 1 complainant mention(s) kept under legal hold 1" in r.stderr
    assert f"request {req['id']} stays pending" in r.stderr
    listed = {r["id"]: r for r in orjson.loads(cli("rights", "list", "--json").stdout)}
    assert listed[req["id"]]["pending"] == "hold 1: 1 mention(s)"
    cli("hold", "release", "1", "--actor", "dpo", "--reason", "dismissed")
    r = cli("rights", "erase", req["id"], "--actor", "dpo")
    assert f"erased 1 complainant mention(s); request {req['id']} done" in r.stderr
    assert rows(a, "complainant", id=mine["id"])[0]["token"] is None


def test_the_labelled_text_is_the_gates():
    assert rights.LABELLED_TEXT == {"hearing": gate._HEARING_TEXT, "offence": gate._OFFENCE_TEXT}
