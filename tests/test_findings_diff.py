"""bench/findings_diff.py, the comparer behind issue 6's "within 2 %" figures: rows matched by
their key, unkeyed rows as a multiset, Kaplan-Meier curves as step functions."""

from __future__ import annotations

import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location("findings_diff", Path(__file__).parents[1] / "bench" / "findings_diff.py")
fd = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fd)


def test_curves_compared_as_step_functions():
    truth = [[0, 1.0], [10, 0.8], [20, 0.5], [30, 0.2]]
    extra = [[0, 1.0], [10, 0.8], [15, 0.79], [20, 0.5], [30, 0.2]]    # one more event: every later
    assert fd.step_gap(truth, extra) == 0.010000000000000009               # point shifted, gap 0.01
    off, s = fd.compare({"km": {"curve": extra}}, {"km": {"curve": truth}}, 0.02)
    assert off == [] and s == {"compared": 1, "equal": 0, "within": 1, "off": 0}
    late = [[0, 1.0], [10, 0.8], [25, 0.5], [30, 0.2]]                    # a step five days late
    off, s = fd.compare({"km": {"curve": late}}, {"km": {"curve": truth}}, 0.02)
    assert s["off"] == 1 and off[0][0].startswith("km.curve (curve: largest gap 0.3000")


def test_rows_by_key_and_unkeyed_rows_as_a_multiset():
    linked = {"towns": [{"town": "Bury", "n": 5}, {"town": "Rochdale", "n": 10}],
              "spanning": [{"size": 3, "network": "a"}, {"size": 2, "network": "b"}], "cases": 100}
    truth = {"towns": [{"town": "Rochdale", "n": 10}, {"town": "Bury", "n": 6}],
             "spanning": [{"size": 2, "network": "x"}, {"size": 3, "network": "y"}], "cases": 101}
    off, s = fd.compare(linked, truth, 0.02)
    assert [k for k, *_ in off] == ["towns[town=Bury].n"], "ranked rows by town, labels ignored"
    assert s == {"compared": 5, "equal": 3, "within": 1, "off": 1}
