"""A case search for a whole URN said "more than 1 result" for the one case of that URN: the URN
was read as a prefix only, and a URN of 5 digits begins those of 6 to 9 -- of which the search
checks a window (HIDE_CAP past the page), so the count was a floor.  Now a whole URN or case
number finds its own case(s) first, counted exactly, on the page, the API and the views; a case of
that URN the viewer may not see counts nowhere (the prefix's matches, as in an archive without
it).  Synthetic data only."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from courtarchive.governance.accounts import viewer
from courtarchive.governance.pseudonym import Keyring
from courtarchive.serve import search as S
from courtarchive.serve import views as V

from test_case_search_gated import DAY, PRESTON, world  # noqa: F401  (world: a fixture)
from test_governance_support import plant, rows

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

WHOLE = "06GX12345"            # a URN of 5 digits ...
LONGER = [f"{WHOLE}{i}" for i in range(4)]     # ... the start of four longer ones


def _case_id(archive, urn: str) -> int:
    return next(c["id"] for c in rows(archive, "case") if c["urn"] == urn)


@pytest.fixture
def urns(world, monkeypatch):
    """WHOLE (a public list, the newest) and four longer URNs it begins (classified lists, older);
    the window: the page and one more (HIDE_CAP 1), of five matches."""
    a = world["archive"]
    plant(a, date=DAY + dt.timedelta(days=30), sensitivity="PUBLIC", court=PRESTON, urn=WHOLE)
    for i, urn in enumerate(LONGER):
        plant(a, date=DAY + dt.timedelta(days=10 + i), sensitivity="CLASSIFIED", court=PRESTON, urn=urn)
    S.refresh(a)
    monkeypatch.setattr(S, "HIDE_CAP", 1)
    return {u: _case_id(a, u) for u in [WHOLE, *LONGER]}


def reporter_client(world, tmp_path):
    """The portal over ``world``'s archive in a TestClient, the app (close its archive after), and
    the Bearer token of the verified-media account ``reporter``."""
    from courtarchive.serve import auth
    from courtarchive.serve.app import create_app
    from courtarchive.serve.deps import WebSettings

    a = world["archive"]
    token = auth.create_token(a, "reporter", name="tests", actor="setup")["token"]
    app = create_app(a.url, settings=WebSettings(db_url=a.url, home=tmp_path / "home",
                                                 reports_dir=tmp_path / "reports"))
    app.state.portal.keyring = Keyring(bytes(range(32)))
    return TestClient(app), app, token


@pytest.fixture
def web(world, tmp_path):
    client, app, token = reporter_client(world, tmp_path)
    yield client, {"public": {}, "verified_media": {"Authorization": f"Bearer {token}"}}
    app.state.portal.archive.close()


@pytest.mark.parametrize("role", ["public", "verified_media"])
def test_a_whole_urn_is_one_result_on_the_page_and_the_api(web, urns, role):
    """The public role: the URN's case and one withheld case in the window, more unchecked -- it
    read "more than 1 result"; verified media (who sees all five): "more than 2"."""
    c, heads = web
    page = c.get("/search", params={"q": WHOLE.lower(), "mode": "case", "limit": 1}, headers=heads[role])
    assert page.status_code == 200, page.text
    assert "1 result (cases), showing 1–1" in page.text and "more than" not in page.text, role
    assert f"case {WHOLE}<" in page.text and LONGER[0] not in page.text
    api = c.get("/api/v1/search", params={"q": WHOLE, "mode": "case", "limit": 1}, headers=heads[role])
    assert api.status_code == 200, api.text
    j = api.json()
    assert (j["total"], j["total_exact"], j["next"]) == (1, True, None), role
    assert [h["case"]["id"] for h in j["hits"]] == [urns[WHOLE]]


def test_a_whole_case_number_and_the_views_alike(world, urns):
    a, p = world["archive"], world["portal"]
    [cn] = [c["case_number"] for c in rows(a, "case") if c["id"] == urns[WHOLE]]
    for q in (WHOLE, cn):
        got = V.search(p, viewer(a, "reporter"), q, mode="case", limit=1)
        assert (got["total"], got["total_exact"]) == (1, True), q
        assert [h["case"]["id"] for h in got["hits"]] == [urns[WHOLE]]
        raw = S.search_cases(a, q, limit=1)
        assert raw["total"] == 1 and [h["case_id"] for h in raw["hits"]] == [urns[WHOLE]]
    # a prefix is still a prefix: every case it begins, best (the whole URN) first
    media = V.search(p, viewer(a, "reporter"), WHOLE[:-1], mode="case", limit=10)
    assert [h["case"]["id"] for h in media["hits"]] == [urns[u] for u in [WHOLE, *reversed(LONGER)]]


def test_a_withheld_case_of_the_whole_urn_counts_nowhere(world, urns):
    """LONGER[0] whole: a classified case, withheld from the public role -- which gets what the
    prefix finds without it (nothing it may see among the longer URNs: no case), exactly as for
    a URN of no case; verified media get that one case."""
    a, p = world["archive"], world["portal"]
    public = viewer(a, "nobody")
    got = V.search(p, public, LONGER[0], mode="case", limit=1)
    unknown = V.search(p, public, "06GX9999999", mode="case", limit=1)
    shown = (got["total"], got["total_exact"], got["hits"])
    assert shown == (unknown["total"], unknown["total_exact"], unknown["hits"]) == (0, True, [])
    media = V.search(p, viewer(a, "reporter"), LONGER[0], mode="case", limit=1)
    assert (media["total"], media["total_exact"]) == (1, True)
    assert [h["case"]["id"] for h in media["hits"]] == [urns[LONGER[0]]]
