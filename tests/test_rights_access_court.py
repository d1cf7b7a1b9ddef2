"""A subject access copy names the court of each list and hearing -- also of a list that names its
court once, not per hearing (a public list: its hearings carry no court name of their own).

The copy read the court from the hearing's own ``court_name`` only, so a mention in a public list
came out as "MAGISTRATES_PUBLIC_LIST, , 2025-05-21": the subject was not told which court listed
them (UK GDPR Art 15(1)(g): the source).  Now the court the hearing sits in is given then."""

from __future__ import annotations

import datetime as dt

from courtarchive.governance import access
from courtarchive.model import Hearing, Offence, ParsedList, Party, PublicationMeta
from test_governance_support import rows
from test_rights_access import _request

D = dt.date
COURT = "Preston Magistrates' Court"


def _public_list(archive, date=D(2025, 5, 1)):
    p = ParsedList(meta=PublicationMeta(list_type="MAGISTRATES_PUBLIC_LIST", sensitivity="PUBLIC", court_name=COURT,
                                        content_date=date, version="1",
                                        published_at=dt.datetime.combine(date, dt.time(8)), source_name="pub.json"))
    p.hearings.append(Hearing(json_path="$.h[0]", court_name=None, sitting_date=date, case_urn="06ZZ1234567"))
    p.parties.append(Party(json_path="$.h[0].p[0]", hearing_ref=0, role="DEFENDANT", forenames="Zebedee",
                           surname="QUIXLEY", name_as_listed="Zebedee QUIXLEY"))
    p.offences.append(Offence(json_path="$.h[0].p[0].o[0]", party_ref=0, seq=1, title="Theft"))
    return archive.write(p, content_hash="public-list")


def test_a_public_lists_court_is_named_in_the_copy(archive):
    _public_list(archive)
    [h] = rows(archive, "hearing")
    assert h["court_name"] is None and h["court_id"] is not None          # the list names its court once
    req = _request(archive, name="Zebedee Quixley", dob=None)
    [m] = access.build(archive, req["id"])["mentions"]
    assert m["list"]["court"] == COURT and m["hearing"]["court"] == COURT


def test_a_complainants_copy_names_the_court_too(archive):
    from courtarchive.ingest import gate
    from test_rights_access import KR

    date = D(2025, 5, 1)
    p = ParsedList(meta=PublicationMeta(list_type="MAGISTRATES_STANDARD_LIST", sensitivity="CLASSIFIED",
                                        court_name=COURT, content_date=date, version="1",
                                        published_at=dt.datetime.combine(date, dt.time(8)), source_name="std.json"))
    p.hearings.append(Hearing(json_path="$.h[0]", court_name=None, sitting_date=date, case_urn="06ZZ7654321"))
    p.parties.append(Party(json_path="$.h[0].p[0]", hearing_ref=0, role="DEFENDANT", forenames="Ambrose",
                           surname="PELLINGHAM", name_as_listed="PELLINGHAM, Ambrose"))
    p.offences.append(Offence(json_path="$.h[0].p[0].o[0]", party_ref=0, seq=1, code="SX03001", title="Sexual assault",
                              wording="On 01/03/2025 at Preston assaulted Henrietta VOSSBERG by beating her."))
    gate.apply(p, KR)
    archive.write(p, content_hash="std-list")
    req = _request(archive, name="Henrietta Vossberg", dob=None)
    [c] = access.build(archive, req["id"], complainant_ids=req["complainant_ids"])["complainant_mentions"]
    assert c["list"]["court"] == COURT and c["hearing"]["court"] == COURT
