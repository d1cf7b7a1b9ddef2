"""Saved searches (alerts of kind ``search``) read their query as the search page reads it: a
URN or case number, offence words ("theft from a shop", "sexual assault"), or else a name -- each
with the search's facets (court, offence group).  A query of several words had always been
matched as a person's name, so an offence-words search was accepted and never fired."""

from __future__ import annotations

import pytest

from test_alerts import day, env, media, run  # noqa: F401  (fixtures)
from test_governance_support import person, plant, rows

from courtarchive.serve import alerts


def _matched(archive) -> dict[int, set[str]]:
    urn_of = {c["id"]: c["urn"] for c in rows(archive, "case")}
    got: dict[int, set[str]] = {}
    for m in rows(archive, "alert_match"):
        got.setdefault(m["subscription_id"], set()).add(urn_of[m["case_id"]])
    return got


def test_offence_words_and_references_are_searched_as_the_search_page_does(archive, env):  # noqa: F811
    media(archive)
    words = alerts.subscribe(archive, username="reporter", kind="search", query="theft from a shop")
    facet = alerts.subscribe(archive, username="reporter", kind="search", query="sexual assault",
                             params={"court": "Preston Crown Court"})
    ref = alerts.subscribe(archive, username="reporter", kind="search", query="06 AB 12")
    name = alerts.subscribe(archive, username="reporter", kind="search", query="Zebedee Quixley",
                            params={"offence_group": "theft"})
    assert words["params"] == {"mode": "case"} and ref["params"] == {"mode": "case"}
    assert name["params"] == {"offence_group": "theft"}               # a name: no mode stored
    # a saved search stored before modes existed ({} params) is read as it would be now
    from courtarchive.store import alerts as sa_store

    old = sa_store.add_subscription(archive, {"account_id": words["account_id"], "kind": "search",
                                              "query": "theft from a shop", "params": None, "label": "old",
                                              "unsubscribe_token": "old-token", "last_run_at": None})
    assert "Preston" in facet["label"] and "court 3" not in facet["label"]   # the court's name, not its id
    plant(archive, date=day(1), urn="06CC0000001", code="TH68101", title="Theft from a shop",
          people=[person(forenames="Ada", surname="BLOGGS")])
    plant(archive, date=day(2), urn="06CC0000002", code="SX03003", title="Sexual assault on a female",
          legislation="Sexual Offences Act 2003, s.3", court="Preston Crown Court", list_type="CROWN_DAILY_LIST")
    plant(archive, date=day(3), urn="06CC0000003", code="SX03003", title="Sexual assault on a female",
          legislation="Sexual Offences Act 2003, s.3")                   # the magistrates' court: not in it
    plant(archive, date=day(4), urn="06AB1234567", code="CD71001", title="Criminal damage",
          people=[person(forenames="Bo", surname="PEEP")])
    plant(archive, date=day(5), urn="06CC0000005")                      # Zebedee QUIXLEY, theft
    run(archive)
    got = _matched(archive)
    assert got[words["id"]] == got[old["id"]] == {"06CC0000001"}
    assert got[facet["id"]] == {"06CC0000002"}
    assert got[ref["id"]] == {"06AB1234567"}
    assert got[name["id"]] == {"06CC0000005"}


def test_saved_search_input_is_checked(archive, env):  # noqa: F811
    media(archive)
    for q, params, why in (("theft from a shop", {"threshold": 0.9}, "name search only"),
                           ("theft from a shop", {"mode": "fuzzy"}, "mode"),
                           ("Zebedee Quixley", {"mode": "case"}, "neither a URN"),
                           ("", {"mode": "case"}, "needs a name")):
        with pytest.raises(alerts.AlertError, match=why):
            alerts.subscribe(archive, username="reporter", kind="search", query=q, params=params)
    assert rows(archive, "subscription") == []
    # a name that reads like offence words is a name when the journalist says so
    s = alerts.subscribe(archive, username="reporter", kind="search", query="Theft", params={"mode": "name"})
    assert s["params"] == {"mode": "name"}
    assert alerts.subscribe(archive, username="reporter", kind="search", query="Theft")["params"] == {"mode": "case"}
    again = alerts.subscribe(archive, username="reporter", kind="search", query="theft from a shop")
    assert alerts.subscribe(archive, username="reporter", kind="search", query="theft from a shop",
                            params={"mode": "case"})["id"] == again["id"]


def test_role_param_is_read_as_lists_write_it(archive, env):  # noqa: F811
    """``--param role=...`` was only upper-cased: "prosecuting authority" never matched the stored
    PROSECUTING_AUTHORITY, and a complainant role -- never a party -- was accepted and never fired."""
    media(archive)
    sub = alerts.subscribe(archive, username="reporter", kind="search", query="Zebedee Quixley",
                           params={"role": "Accused"})
    assert sub["params"] == {"role": "DEFENDANT"}
    org = alerts.subscribe(archive, username="reporter", kind="search", query="Crown Prosecution Service",
                           params={"role": "prosecuting authority"})
    assert org["params"] == {"role": "PROSECUTING_AUTHORITY"}
    for bad, why in (("complainant", "never listed as parties"), ("victim's parent", "acting for complainants"),
                     ("  ", "give a party role")):
        with pytest.raises(alerts.AlertError, match=why):
            alerts.subscribe(archive, username="reporter", kind="name", query="Jane Smith", params={"role": bad})
    plant(archive, date=day(1), urn="06CC0000009")
    run(archive)
    assert _matched(archive).get(sub["id"]) == {"06CC0000009"}


def test_the_same_name_in_other_case_or_spacing_is_no_second_alert(archive, env):  # noqa: F811
    """"GARY  lowe" after "Gary Lowe" made a second name alert: every match mailed twice."""
    media(archive)
    first = alerts.subscribe(archive, username="reporter", kind="name", query="Gary Lowe")
    again = alerts.subscribe(archive, username="reporter", kind="name", query="  GARY  lowe ")
    assert again["existing"] and again["id"] == first["id"]
    s = alerts.subscribe(archive, username="reporter", kind="search", query="Theft  from a SHOP")
    assert s["query"] == "Theft from a SHOP"
    assert alerts.subscribe(archive, username="reporter", kind="search", query="theft from a shop")["id"] == s["id"]
    assert len(rows(archive, "subscription")) == 2
