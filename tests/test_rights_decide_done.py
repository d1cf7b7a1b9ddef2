"""A request carried out keeps its decision: `rights decide` on a done request is refused.

`rights decide N` on a request done (an erasure carried out, a copy sent) recorded the new decision
and put it back to ``decided``: the request was counted again as waiting (the compliance report's
"decided, not done", `rights list` OVERDUE in time) over the decision that had been carried out,
and a mistyped request id did it silently.  Now it is refused (exit 3), nothing written or audited."""

from __future__ import annotations

import datetime as dt

import pytest

from courtarchive.governance import rights
from courtarchive.store import governance as sg
from test_governance_cli import _error, cli  # noqa: F401  (the fixture: the CLI over an initialised archive)
from test_governance_compliance import cli_env  # noqa: F401
from test_governance_support import plant, rows
from test_rights_access import KR

D = dt.date


def test_a_done_request_cannot_be_decided_again(archive):
    plant(archive, date=D(2025, 5, 1))
    req = rights.open_request(archive, kind="erasure", name="Zebedee Quixley", keyring=KR, actor="dpo")
    rights.decide(archive, req["id"], decision="comply", reasons="no public interest", actor="dpo")
    assert rights.erase(archive, keyring=KR, actor="dpo", request_id=req["id"])["complete"]
    done = sg.get_rights_request(archive, req["id"])
    before = rows(archive, "audit_event")
    for decision in ("partial", "comply", "refuse_exempt"):
        with pytest.raises(rights.Refused, match=f"request {req['id']} was carried out.*decision stands"):
            rights.decide(archive, req["id"], decision=decision, reasons="again", actor="dpo",
                          with_view_to_publication=True, public_interest_belief=True,
                          incompatible_with_journalism=True)
    assert sg.get_rights_request(archive, req["id"]) == done and rows(archive, "audit_event") == before


def test_a_decided_request_not_yet_carried_out_may_be_decided_again(archive):
    plant(archive, date=D(2025, 5, 1))
    req = rights.open_request(archive, kind="erasure", name="Zebedee Quixley", keyring=KR, actor="dpo")
    rights.decide(archive, req["id"], decision="refuse_exempt", reasons="investigation", actor="dpo",
                  with_view_to_publication=True, public_interest_belief=True, incompatible_with_journalism=True)
    got = rights.decide(archive, req["id"], decision="comply", reasons="reconsidered", actor="dpo")
    assert (got["status"], got["decision"], got["exemption"]) == ("decided", "comply", None)


def test_the_cli_refuses_with_exit_3(cli):
    plant(cli.archive, date=D(2025, 5, 1))
    cli("rights", "open", "--kind", "erasure", "--name", "Zebedee Quixley", "--actor", "dpo")
    cli("rights", "decide", "1", "--decision", "comply", "--reasons", "ok", "--actor", "dpo")
    cli("rights", "erase", "1", "--actor", "dpo")
    r = cli("rights", "decide", "1", "--decision", "partial", "--reasons", "typo", "--actor", "dpo", code=3)
    assert _error(r).startswith("error: request 1 was carried out")
    assert sg.get_rights_request(cli.archive, 1)["status"] == "done"
