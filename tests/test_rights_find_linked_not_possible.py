"""A mention both linked to the subject's person and of their name without a date of birth is
listed once, as linked -- not also as a possible match.

`rights find` / `rights open` with a date of birth listed the subject's dateless mentions the link
stage had tied to them under "linked to them" *and* "possible (name only)": `open` said "6
mention(s) found, 3 possible" for six mentions, and the DPO was asked to check with the subject
mentions the request already acts on by default (a copy gives them, an erasure erases them)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from courtarchive.governance import rights
from courtarchive.store import governance as sg
from test_governance_support import person, plant, rows
from test_rights_access import KR

D = dt.date


def test_a_linked_mention_is_not_also_a_possible_match(archive):
    plant(archive, date=D(2025, 5, 1), people=[person()])
    plant(archive, date=D(2025, 5, 8), people=[person(dob=None, age=None)])
    plant(archive, date=D(2025, 5, 9), people=[person(dob=None, age=None)])
    dated, linked, unlinked = (p["id"] for p in rows(archive, "party", role="DEFENDANT"))
    # the link stage's person of the subject: the dated mention and one dateless one
    with archive.engine.begin() as c:
        c.execute(sa.insert(sg.T["person"]).values(id=1, kind="defendant", mentions=2))
        c.execute(sa.insert(sg.T["person_mention"]), [dict(id=i + 1, person_id=1, kind="defendant", party_id=p)
                                                      for i, p in enumerate((dated, linked))])
    f = rights.find(archive, name="Zebedee Quixley", dob=D(1988, 7, 14), keyring=KR, actor="dpo")
    assert f["party_ids"] == [dated] and f["linked_party_ids"] == [linked]
    assert f["possible_party_ids"] == [unlinked]                        # not [linked, unlinked]
    req = rights.open_request(archive, kind="access", name="Zebedee Quixley", dob=D(1988, 7, 14), keyring=KR,
                              actor="dpo")
    assert req["possible_party_ids"] == [unlinked]
