"""Retention status and the compliance report measure raw *identities*: a publication whose
identities expired is not "raw" because another data class is kept longer.

The expiry marks a publication ``raw_expired_at`` only when every data class of the profile has
expired.  Under a profile keeping the wording longer than the identities (identity 6 months,
wording 12), a list 8 months old has every party pseudonymised -- and yet `retention status`
called it the oldest raw record, OVERDUE against the identity limit, and the compliance report
listed it under ``beyond_limit_unheld`` (within_limit false): the DPO was told the archive holds
identities beyond the licence term when it holds none."""

from __future__ import annotations

import datetime as dt

import pytest

from courtarchive.governance import compliance, holds, retention
from courtarchive.governance.profile import load
from courtarchive.governance.pseudonym import Keyring
from test_governance_support import plant, rows

KR = Keyring(bytes(range(32)))
D = dt.date
LISTED, AS_OF = D(2025, 1, 10), D(2025, 9, 1)          # 8 months on: identities due, wording not


@pytest.fixture
def prof(tmp_path, monkeypatch):
    monkeypatch.delenv("COURTARCHIVE_PROFILE", raising=False)
    (tmp_path / "profile.toml").write_text("[retention.classes]\nidentity = 6\npersonal = 6\nwording = 12\n", "utf-8")
    return load(home=tmp_path)


def test_identities_expired_before_the_wording_are_not_raw(archive, prof, tmp_path):
    plant(archive, date=LISTED)
    assert retention.status(archive, profile=prof, as_of=AS_OF)["overdue"] is True          # not expired yet
    retention.expire(archive, keyring=KR, profile=prof, as_of=AS_OF, compact=False)
    assert all(p["pseudonymised"] for p in rows(archive, "party"))
    [pub] = rows(archive, "publication")
    assert pub["raw_expired_at"] is None                        # (its wording is kept 12 months)
    st = retention.status(archive, profile=prof, as_of=AS_OF)
    assert st["overdue"] is False and st["oldest_raw"] is None
    rs = compliance.build(archive, profile=prof, as_of=AS_OF)["retention_status"]
    assert rs["within_limit"] is True and rs["beyond_limit_unheld"] == [] and rs["raw_publications"] == 0


def test_a_publication_with_a_held_mention_is_still_raw(archive, prof):
    plant(archive, date=LISTED)
    plant(archive, date=LISTED)
    held_case = rows(archive, "case")[0]["id"]
    holds.add(archive, scope="case", ref=str(held_case), reason="claim", authority="court order", actor="dpo")
    retention.expire(archive, keyring=KR, profile=prof, as_of=AS_OF, compact=False)
    held_pub = rows(archive, "hearing", case_id=held_case)[0]["publication_id"]
    st = retention.status(archive, profile=prof, as_of=AS_OF)
    assert st["overdue"] is True and st["oldest_raw"]["publication_id"] == held_pub
    assert st["oldest_raw"]["raw_publications"] == 1
    rs = compliance.build(archive, profile=prof, as_of=AS_OF)["retention_status"]
    assert rs["within_limit"] is False and rs["beyond_limit_unheld"] == [] and rs["beyond_limit_held"] == 1
