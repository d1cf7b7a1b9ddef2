"""Statistics on top of the definitions: Kaplan-Meier, repeat-offending KM, excess tests, Gi*.

Kaplan-Meier
    `kaplan_meier` is the product-limit estimator with lifelines' defaults: exponential Greenwood
    ("log(-log)") 95% bands, the median = the first time the curve reaches 0.5, its 95% CI = the
    first times the two bands reach 0.5 (``None`` = not reached).  ``method="lifelines"`` fits
    `lifelines.KaplanMeierFitter`; ``"numpy"`` computes the same numbers without importing pandas
    (the tests hold the two equal); ``"auto"`` (default) uses numpy -- lifelines costs seconds to
    import on this box and the 25k-case run has a 5 s budget.
Excess of multi-defendant cases at a location
    one-sided exact binomial test: P(X >= m) for X ~ Bin(n, p0), n = in-scope cases located there,
    m = those with >= 2 defendants, p0 = the share over all in-scope cases; Benjamini-Hochberg
    q-values over every location with an in-scope case.
Hotspots
    Getis-Ord Gi* (binary k-nearest-neighbour weights with the self weight 1, as esda's
    ``G_Local(star=True)``), permutation inference (conditional randomisation, fixed seed):
    ``z_sim`` and a one-sided ``p_sim`` for high values.  With a few extreme towns the pseudo p
    is conservative (a random draw that holds the extreme town is as large as the real cluster) and
    floors at 1/(permutations+1); the findings therefore test ``z_sim`` against the normal
    (esda's ``p_z_sim``) with BH q-values, and report ``p_sim`` beside it.  The statistic equals
    esda's ``Gs`` (held equal in the tests); esda itself is not imported at run time.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

__all__ = ["kaplan_meier", "km_summary", "binom_sf", "bh_qvalues", "knn_weights", "gi_star",
           "Z975"]

Z975 = 1.959963984540054      # inverse normal CDF at 0.975 (lifelines' alpha = 0.05)


# ------------------------------------------------------------------ Kaplan-Meier
def _km_numpy(durations: np.ndarray, events: np.ndarray):
    """timeline, survival, lower, upper (lifelines conventions: timeline from 0)."""
    t = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=bool)
    times, inv = np.unique(t, return_inverse=True)
    removed = np.bincount(inv, minlength=len(times)).astype(float)
    died = np.bincount(inv, weights=e.astype(float), minlength=len(times))
    if times.size == 0 or times[0] > 0:
        times = np.concatenate([[0.0], times])
        removed = np.concatenate([[0.0], removed])
        died = np.concatenate([[0.0], died])
    at_risk = len(t) - np.concatenate([[0.0], np.cumsum(removed)[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.cumprod(np.where(at_risk > 0, 1.0 - died / at_risk, 1.0))
        gw = np.cumsum(np.where((at_risk - died) > 0, died / (at_risk * (at_risk - died)), 0.0))
        v = np.log(s)
        lower = np.exp(-np.exp(np.log(-v) - Z975 * np.sqrt(gw) / v))
        upper = np.exp(-np.exp(np.log(-v) + Z975 * np.sqrt(gw) / v))
    lower = np.where(np.isnan(lower), np.where(s >= 1.0, 1.0, 0.0), lower)
    upper = np.where(np.isnan(upper), np.where(s >= 1.0, 1.0, 0.0), upper)
    return times, s, lower, upper


def _km_lifelines(durations: np.ndarray, events: np.ndarray):
    from lifelines import KaplanMeierFitter

    k = KaplanMeierFitter().fit(durations, events)
    ci = k.confidence_interval_
    return (k.survival_function_.index.to_numpy(dtype=float), k.survival_function_.iloc[:, 0].to_numpy(),
            ci.iloc[:, 0].to_numpy(), ci.iloc[:, 1].to_numpy())


def _first_at_or_below(times: np.ndarray, curve: np.ndarray, q: float = 0.5) -> float | None:
    """lifelines' qth_survival_time: the first time the curve is <= q (None: never)."""
    if curve.size == 0:
        return None
    c = np.where(np.isnan(curve), 1.0, curve)
    idx = np.nonzero(c <= q)[0]
    return float(times[idx[0]]) if idx.size else None


def kaplan_meier(durations: Sequence[float], events: Sequence[bool], *, method: str = "auto") -> dict:
    """KM fit: n, events, median, median CI and the step curve (timeline, survival, lower, upper)."""
    d = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=bool)
    if d.size == 0:
        return {"n": 0, "events": 0, "median": None, "ci95": [None, None],
                "timeline": np.array([0.0]), "survival": np.array([1.0]),
                "lower": np.array([1.0]), "upper": np.array([1.0])}
    if method == "lifelines":
        times, s, lo, hi = _km_lifelines(d, e)
    elif method in ("numpy", "auto"):
        times, s, lo, hi = _km_numpy(d, e)
    else:
        raise ValueError(f"KM method {method!r}: expected auto, numpy or lifelines")
    return {"n": int(d.size), "events": int(e.sum()), "median": _first_at_or_below(times, s),
            "ci95": [_first_at_or_below(times, lo), _first_at_or_below(times, hi)],
            "timeline": times, "survival": s, "lower": lo, "upper": hi}


def km_summary(fit: dict, *, points: int = 0, at: Iterable[float] = ()) -> dict:
    """JSON-ready summary of a `kaplan_meier` fit: n, events, median_days, ci95 and optionally
    a down-sampled curve (``points``) and the survival at given times (``at``)."""
    out = {"n": fit["n"], "events": fit["events"], "censored": fit["n"] - fit["events"],
           "median_days": fit["median"], "median_ci95": fit["ci95"]}
    times, s = fit["timeline"], fit["survival"]
    lo, hi = fit["lower"], fit["upper"]
    if at:
        vals = {}
        for t in at:
            i = int(np.searchsorted(times, t, side="right")) - 1
            i = max(i, 0)
            vals[str(int(t))] = {"survival": _r(s[i]), "lower": _r(lo[i]), "upper": _r(hi[i])}
        out["at"] = vals
    if points and fit["n"]:
        idx = np.unique(np.linspace(0, len(times) - 1, min(points, len(times))).round().astype(int))
        out["curve"] = [[float(times[i]), _r(s[i])] for i in idx]
    return out


def _r(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), 6)


# ------------------------------------------------------------------ exact binomial tail
def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction for the regularised incomplete beta (modified Lentz)."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        de = d * c
        h *= de
        if abs(de - 1.0) < eps:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbt = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(lbt) * _betacf(a, b, x) / a
    return 1.0 - math.exp(lbt) * _betacf(b, a, 1.0 - x) / b


def binom_sf(m: int, n: int, p: float) -> float:
    """P(X >= m) for X ~ Binomial(n, p) (= I_p(m, n - m + 1))."""
    if m <= 0:
        return 1.0
    if m > n:
        return 0.0
    return min(1.0, max(0.0, _betainc(float(m), float(n - m + 1), p)))


def bh_qvalues(p: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order."""
    pv = np.asarray(p, dtype=float)
    n = pv.size
    if n == 0:
        return []
    order = np.argsort(pv)
    ranked = pv[order] * n / np.arange(1, n + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(q, 1.0)
    return [float(x) for x in out]


# ------------------------------------------------------------------ Getis-Ord Gi*
def knn_weights(lat: Sequence[float], lon: Sequence[float], k: int = 6) -> np.ndarray:
    """Binary k-nearest-neighbour matrix (rows: neighbours of i, self excluded), distances on an
    equirectangular projection (km) -- fine at the scale of England and Wales."""
    la = np.radians(np.asarray(lat, float))
    lo = np.radians(np.asarray(lon, float))
    x = 6371.0 * lo * np.cos(la.mean() if la.size else 0.0)
    y = 6371.0 * la
    n = la.size
    k = max(0, min(k, n - 1))
    w = np.zeros((n, n))
    if k == 0:
        return w
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    np.fill_diagonal(d, np.inf)
    nn = np.argsort(d, axis=1, kind="stable")[:, :k]
    w[np.repeat(np.arange(n), k), nn.ravel()] = 1.0
    return w


def gi_star(values: Sequence[float], weights: np.ndarray, *, permutations: int = 999,
            seed: int = 12345) -> dict:
    """Gi* with self weight 1: Gs = (W* y) / sum(y); conditional-permutation z_sim and one-sided
    (high) p_sim = (#{G_rand >= G} + 1) / (permutations + 1)."""
    y = np.asarray(values, dtype=float)
    n = y.size
    w = np.asarray(weights, dtype=float).copy()
    np.fill_diagonal(w, 1.0)
    total = y.sum()
    if n < 3 or total <= 0:
        z = np.zeros(n)
        return {"Gs": z, "z_sim": z, "p_sim": np.ones(n)}
    gs = (w @ y) / total
    rng = np.random.default_rng(seed)
    card = (w.sum(axis=1) - 1).astype(int)           # other neighbours
    kmax = int(card.max()) if n else 0
    # one set of permuted ids over the n-1 "others", reused for every site (as esda does)
    perm = np.stack([rng.permutation(n - 1)[:kmax] for _ in range(permutations)]) if kmax else None
    z_sim = np.zeros(n)
    p_sim = np.ones(n)
    for i in range(n):
        others = np.delete(y, i)
        ki = card[i]
        if ki == 0 or perm is None:
            continue
        rg = (others[perm[:, :ki]].sum(axis=1) + y[i]) / total
        sd = rg.std()
        z_sim[i] = (gs[i] - rg.mean()) / sd if sd > 0 else 0.0
        p_sim[i] = (float((rg >= gs[i]).sum()) + 1.0) / (permutations + 1.0)
    return {"Gs": gs, "z_sim": z_sim, "p_sim": p_sim}
