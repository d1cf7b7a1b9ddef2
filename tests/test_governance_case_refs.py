"""Holds and reporting-restriction orders name a case as every other reader of a case reference
does (`store.serve.find_cases`): a case number in any spacing or case; a number is a case number
before it is an id; a case number several cases share is asked about, naming their URNs.  Before,
`resolve_case` tried the number as an id first, compared the case number as typed, and took the
lowest id of those sharing it, silently: a legal hold could keep the wrong case and leave the right
one to erasure."""

from __future__ import annotations

import sqlalchemy as sa
from typer.testing import CliRunner

from courtarchive.governance import holds
from courtarchive.store import governance as sg

from test_governance_compliance import cli_env  # noqa: F401  (the fixture: an initialised archive and the CLI)
from test_governance_support import plant, rows

import pytest


def _number(archive, case_id: int, number: str) -> None:
    with archive.engine.begin() as conn:
        conn.execute(sa.text('UPDATE "case" SET case_number = :n WHERE id = :i'), {"n": number, "i": case_id})


def _cases(archive, n: int) -> list[dict]:
    for _ in range(n):
        plant(archive)
    return sorted(rows(archive, "case"), key=lambda c: c["id"])


def test_a_shared_case_number_is_asked_about_not_the_lowest_id_held(archive):
    a, b, c = _cases(archive, 3)
    _number(archive, a["id"], "T20190001")
    _number(archive, b["id"], "t 2019 0001")
    with pytest.raises(holds.HoldError) as e:
        holds.add(archive, scope="case", ref="T20190001", reason="claim", authority="court order", actor="dpo")
    assert a["urn"] in str(e.value) and b["urn"] in str(e.value) and "give the URN" in str(e.value)
    assert sg.holds(archive, active_only=True) == []                      # nothing held
    hid = holds.add(archive, scope="case", ref=b["urn"], reason="claim", authority="court order", actor="dpo")
    [h] = sg.holds(archive, active_only=True)
    assert h["id"] == hid and h["ref"] == str(b["id"])
    _number(archive, c["id"], "T 2020 0007")                              # any spacing, any case
    assert sg.resolve_case(archive, "t20200007") == c["id"]


def test_a_bare_number_is_a_case_number_before_it_is_an_id(archive):
    a, b = _cases(archive, 2)
    _number(archive, b["id"], str(a["id"]))          # case b's number is case a's id
    assert sg.resolve_case(archive, str(a["id"])) == b["id"]
    assert sg.resolve_case(archive, f"id:{a['id']}") == a["id"]
    assert sg.resolve_case(archive, str(b["id"])) == b["id"]              # no case has that number: the id


def test_restrictions_cli_refuses_a_shared_case_number_in_one_line(cli_env):  # noqa: F811
    from courtarchive.store import Archive

    runner, app = cli_env
    archive = Archive.open()
    try:
        a, b = _cases(archive, 2)
        _number(archive, a["id"], "T20190001")
        _number(archive, b["id"], "T20190001")
        r = runner.invoke(app, ["restrictions", "list", "--case", "T20190001"])
        assert r.exit_code == 2 and "Traceback" not in r.output
        assert a["urn"] in r.output and b["urn"] in r.output
        r = runner.invoke(app, ["hold", "add", "--scope", "case", "--ref", "T20190001", "--reason", "claim",
                                "--authority", "court order", "--actor", "dpo"])
        assert r.exit_code == 2 and a["urn"] in r.output and sg.holds(archive, active_only=True) == []
    finally:
        archive.close()
