"""A request that found the subject's name only -- possible matches (no date of birth to tell) or
complainant mentions (keyed by a name a namesake shares) -- has not found "nothing".

`rights copy` said "found no mention of the subject: nothing to copy (a letter saying no personal
data is held is written by hand)" and `rights erase` "found no mention to erase" (exit 1), though
the request listed mentions that may be the subject's: a DPO following the words would tell the
subject no personal data is held.  Now both say what was found by name only and how to give it
(--party, --complainant), exit 2 (a value missing), with nothing written or audited."""

from __future__ import annotations

import datetime as dt

import pytest

from courtarchive.governance import access, rights
from courtarchive.store import governance as sg
from test_governance_cli import cli  # noqa: F401  (the fixture: the CLI over an initialised archive)
from test_governance_compliance import cli_env  # noqa: F401
from test_governance_support import person, plant, rows
from test_rights_access import KR, _gated_list, _request

D = dt.date


def _possible_only(archive) -> tuple[int, int]:
    """The subject's name listed without a date of birth: with one given, a possible match only."""
    plant(archive, date=D(2025, 5, 1), people=[person(dob=None, age=None)])
    [pid] = [p["id"] for p in rows(archive, "party", role="DEFENDANT")]
    req = _request(archive, name="Zebedee Quixley", dob=D(1988, 7, 14))
    assert req["party_ids"] == req["linked_party_ids"] == [] and req["possible_party_ids"] == [pid]
    return req["id"], pid


def test_a_copy_of_possible_matches_only_is_not_nothing_held(archive, tmp_path):
    rid, pid = _possible_only(archive)
    before = rows(archive, "audit_event")
    with pytest.raises(access.AccessError, match=rf"possible match\(es\) \(party mentions\) {pid} by name only"
                                                 r".*--party ID") as e:
        access.write(archive, rid, out=tmp_path / "sar", actor="dpo")
    assert not isinstance(e.value, access.NothingHeld) and "no personal data is held" not in str(e.value)
    assert rows(archive, "audit_event") == before and not (tmp_path / "sar").exists()
    copy = access.build(archive, rid, party_ids=[pid])               # named after the check: given
    assert [m["mention_id"] for m in copy["mentions"]] == [pid]


def test_an_erasure_of_possible_matches_only_says_to_name_them(archive):
    plant(archive, date=D(2025, 5, 1), people=[person(dob=None, age=None)])
    [pid] = [p["id"] for p in rows(archive, "party", role="DEFENDANT")]
    req = _request(archive, kind="erasure", name="Zebedee Quixley", dob=D(1988, 7, 14))
    before = (rows(archive, "audit_event"), rows(archive, "party"), rows(archive, "retention_run"))
    with pytest.raises(rights.RightsError, match=rf"possible match\(es\) \(party mentions\) {pid} .*--party ID") as e:
        rights.erase(archive, keyring=KR, actor="dpo", request_id=req["id"])
    assert not isinstance(e.value, rights.NotFound)
    assert (rows(archive, "audit_event"), rows(archive, "party"), rows(archive, "retention_run")) == before


def test_the_cli_says_what_was_found_by_name_only(cli, tmp_path):
    a = cli.archive
    _gated_list(a, date=D(2025, 5, 1), wording="On 01/03/2025 at Preston assaulted Henrietta VOSSBERG by beating her.")
    cli("rights", "open", "--kind", "access", "--name", "Henrietta Vossberg", "--actor", "dpo")
    cli("rights", "decide", "1", "--decision", "comply", "--reasons", "ID seen", "--actor", "dpo")
    [cid] = sg.get_rights_request(a, 1)["found"]["complainant_ids"]
    r = cli("rights", "copy", "1", "--out", tmp_path / "sar", "--actor", "dpo", code=2)
    assert f"complainant mention(s) {cid} by name only" in r.output and "--complainant ID" in r.output
    assert "no personal data is held" not in r.output and not (tmp_path / "sar").exists()
    assert sg.get_rights_request(a, 1)["status"] == "decided"
    r = cli("rights", "copy", "1", "--out", tmp_path / "sar", "--complainant", cid, "--actor", "dpo")
    assert "1 complainant mention(s)" in r.output
