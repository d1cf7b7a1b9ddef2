"""A step after `courtarchive link run` (`serve.postingest.AFTER_LINK`: the search index taking the new
person ids) failing: the run printed the step and its error in yellow and exited 0, so a script or a
scheduler never knew the search index was behind.  Now, as after `ingest`, the failed step is one line
``error: ...`` (`postingest.failures`: the step, its cause, the command that runs it again), the exit
code is 1 (done in part), ``--json`` lists the failed steps, and the links stay written.  On SQLite and,
when COURTARCHIVE_TEST_PG is set, PostgreSQL.  Synthetic data only (`link.synthetic`)."""

from __future__ import annotations

import orjson
import polars as pl
import pytest
from typer.testing import CliRunner

from courtarchive.link import synthetic
from courtarchive.link.cli import app
from courtarchive.store import linkage as store
from test_link_run import load

SEARCH = "courtarchive.serve.search:refresh"


@pytest.fixture(scope="module")
def rows():
    return pl.from_arrow(synthetic.mentions(120, seed=5)).sort("sitting_date", "party_id").to_dicts()


def _errors(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [x for x in stderr.splitlines() if x.startswith("error: ")]


def _drop_search_index(archive) -> None:
    with archive.engine.begin() as c:
        c.exec_driver_sql("DROP TABLE search_name")


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_a_failed_search_index_refresh_is_one_line_exit_1_and_the_links_stay(archive, rows, as_json):
    load(archive, rows, per=60)
    _drop_search_index(archive)
    res = CliRunner().invoke(app, ["run", "--full", "--db", archive.url, *(["--json"] if as_json else [])],
                             terminal_width=200)
    assert res.exit_code == 1, res.output
    [line] = _errors(res.stderr)
    assert line.startswith("error: after link, step 'search index refresh' failed: ")
    assert "search_name" in line and line.endswith("the link run's persons and networks are saved: run "
                                                   "`courtarchive search-index refresh` to do it again")
    assert "[SQL:" not in res.stderr and "[yellow]" not in res.stderr
    assert SEARCH not in res.stderr.replace(line, "")     # (said once: not again as a yellow step line)
    if as_json:
        out = orjson.loads(res.stdout)
        assert out["after_link_failed"] == [SEARCH] and "error" in out["after_link"][SEARCH]
        assert out["defendants"]["mentions"] == len(rows)
    else:
        assert "defendant mentions ->" in res.stderr          # the run's summary is still printed
    # the links are committed: every mention has its person, and the run is recorded
    linked = store.person_assignments(archive, "defendant")
    assert linked.num_rows == len(rows) and store.latest_run(archive) is not None


def test_link_run_with_the_steps_done_exits_0_and_lists_no_failed_step(archive, rows):
    load(archive, rows, per=60)
    res = CliRunner().invoke(app, ["run", "--full", "--db", archive.url, "--json"])
    assert res.exit_code == 0, res.output
    assert not _errors(res.stderr)
    out = orjson.loads(res.stdout)
    assert out["after_link_failed"] == [] and "error" not in out["after_link"][SEARCH]
