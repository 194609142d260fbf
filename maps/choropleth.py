"""Classes and colours for choropleths (the quantile rule of mapclassify), with their legend texts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# ColorBrewer sequential schemes (colour-blind safe), light → dark.
_WORSE = ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026", "#800026")
_BETTER = ("#f7fcb9", "#d9f0a3", "#addd8e", "#78c679", "#41ab5d", "#238443", "#005a32")
NO_DATA = "#d9d9d9"
SCHEMES = ("quantiles", "natural_breaks", "equal_interval")


@dataclass(frozen=True)
class Classes:
    """Upper bounds of the classes, their colours and legend labels, and each value's class."""

    bins: tuple[float, ...]
    colors: tuple[str, ...]
    labels: tuple[str, ...]
    yb: np.ndarray  # class index per value, -1 where the value is missing

    def color_of(self) -> list[str]:
        return [self.colors[i] if i >= 0 else NO_DATA for i in self.yb]


def classify(
    values: np.ndarray,
    *,
    k: int = 5,
    scheme: str = "quantiles",
    higher_is_worse: bool = True,
    fmt: Callable[[float], str] = lambda v: f"{v:,.1f}",
    integer: bool = False,
    reference: np.ndarray | None = None,
) -> Classes:
    """Split ``values`` into at most ``k`` classes; fewer when there are fewer distinct values.

    With ``reference`` the classes are drawn from those values instead (every month of a range,
    when months are compared one after another) and ``values`` are placed in them, so a colour
    means the same from one month to the next.

    Class ``i`` holds the values above the bound of class ``i - 1`` up to its own. Every legend
    row says something different: for whole numbers (``integer``, counts) bounds are whole and a
    class runs from the number after the previous bound ("2 – 3", or "1" alone), so no class
    reads "0 – 0"; bounds that ``fmt`` prints alike are merged into one class (three quantiles
    of closure rates that all print "100%" are one class, not three).
    """
    if reference is not None:
        fixed = classify(
            reference, k=k, scheme=scheme, higher_is_worse=higher_is_worse, fmt=fmt, integer=integer
        )
        v = np.asarray(values, dtype=float)
        ok = np.isfinite(v)
        yb = np.full(len(v), -1, dtype=np.int64)
        if fixed.bins:
            # A value beyond the reference (none when it holds every month shown) joins the end class.
            yb[ok] = np.minimum(
                np.searchsorted(np.asarray(fixed.bins), v[ok], side="left"), len(fixed.bins) - 1
            )
        return Classes(bins=fixed.bins, colors=fixed.colors, labels=fixed.labels, yb=yb)
    if scheme not in SCHEMES:
        raise ValueError(f"unknown classification scheme {scheme!r}; known: {SCHEMES}")
    if not 2 <= k <= 7:
        raise ValueError(f"k must be between 2 and 7, not {k}")
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    yb = np.full(len(v), -1, dtype=np.int64)
    distinct = np.unique(v[ok])
    palette = _WORSE if higher_is_worse else _BETTER
    if len(distinct) == 0:
        return Classes(bins=(), colors=(), labels=(), yb=yb)
    if len(distinct) == 1:
        yb[ok] = 0
        return Classes(bins=(float(distinct[0]),), colors=(palette[3],), labels=(fmt(distinct[0]),), yb=yb)
    k = min(k, len(distinct))
    if scheme == "quantiles":
        upper = quantile_bins(v[ok], k=k)
    elif scheme == "equal_interval":
        upper = equal_interval_bins(v[ok], k=k)
    else:
        import mapclassify  # a few seconds to import (numba, scikit-learn): only when asked for

        upper = np.asarray(mapclassify.FisherJenks(v[ok], k=k).bins, dtype=float)
    if integer:
        # Whole-number classes: a bound of 0.4 holds no count that a bound of 0 does not.
        upper = np.unique(np.floor(upper))
    if len(upper) < k:
        # Bounds collapsed on values many grids share: split again from one class, the largest
        # class first (quantiles of what is left would keep the collapsed bounds' odd sizes).
        upper = split_crowded(upper[-1:], v[ok], k=k)
    texts = [fmt(float(b)) for b in upper]
    # Of bounds that print alike keep the last (the largest), so the top value stays covered.
    keep = [i for i in range(len(upper)) if i + 1 == len(upper) or texts[i] != texts[i + 1]]
    upper = upper[keep]
    bins = tuple(float(b) for b in upper)
    yb[ok] = np.searchsorted(upper, v[ok], side="left")
    # Spread the used colours over the palette so few classes still run light to dark.
    idx = np.linspace(0, len(palette) - 1, len(bins)).round().astype(int)
    colors = tuple(palette[i] for i in idx)
    step = 1.0 if integer else 0.0  # a class starts at the number after the previous bound
    lows = (float(v[ok].min()), *(b + step for b in bins[:-1]))
    labels = tuple(_range_label(fmt(lo), fmt(hi)) for lo, hi in zip(lows, bins, strict=True))
    return Classes(bins=bins, colors=colors, labels=labels, yb=yb)


def split_crowded(upper: np.ndarray, values: np.ndarray, *, k: int) -> np.ndarray:
    """Class bounds split until there are ``k`` classes (or no class holds two distinct values).

    Quantile bounds collapse where many values are equal: when 80 % of the grids close every case,
    every quintile bound is 100 % and one class runs from 50 % to 100 %, hiding the grids that
    lag. The class holding the most values (of those holding two distinct values) is split at its
    median, or below a crowd at its top so the crowd becomes a class of its own, until ``k``
    classes exist. New bounds are values of the data, so whole numbers stay whole.
    """
    bounds = [float(b) for b in np.unique(upper)]
    values = np.sort(np.asarray(values, dtype=float))
    while len(bounds) < k:
        cls = np.searchsorted(np.asarray(bounds), values, side="left")
        counts = np.bincount(cls, minlength=len(bounds))
        split = None
        for i in np.argsort(-counts, kind="stable"):  # at most k classes: a loop over classes
            distinct = np.unique(values[cls == i])
            if len(distinct) >= 2:
                split = (int(i), distinct, values[cls == i])
                break
        if split is None:
            break
        i, distinct, members = split
        below = distinct[distinct <= np.median(members)]
        bound = below[-1] if len(below) else distinct[0]
        if bound >= distinct[-1]:
            bound = distinct[-2]  # a crowd at the top: the values below it become a class
        bounds.insert(i, float(bound))
    return np.asarray(bounds)


def _range_label(lo: str, hi: str) -> str:
    return lo if lo == hi else f"{lo} – {hi}"


def rate_floor(values: np.ndarray | float, *, decimals: int = 1) -> np.ndarray:
    """Rates (0..1) as percentages cut down, never rounded up, to ``decimals`` places.

    99.97 % is shown as 99.9 %, so a rate shows 100 % only when it is exactly 1. The tiny
    addition keeps a value like 0.997, which binary floating point holds as 0.99699…, at 99.7.
    """
    scale = 10.0**decimals
    pct = np.asarray(values, dtype=float) * 100.0
    return np.floor(pct * scale + 1e-6) / scale


def rate_text(value: float, *, decimals: int = 1) -> str:
    """One rate as text (``99.7%``), cut down by :func:`rate_floor`; ``–`` where undefined."""
    if value is None or not np.isfinite(value):
        return "–"
    return f"{float(rate_floor(value, decimals=decimals)):.{decimals}f}%"


def quantile_bins(values: np.ndarray, *, k: int) -> np.ndarray:
    """Upper bounds of ``k`` quantile classes, as ``mapclassify.Quantiles`` computes them.

    Quantiles and equal intervals are a few lines of numpy; importing mapclassify costs seconds
    (it compiles numba kernels at import), which every first page view would pay.
    """
    width = 100.0 / k
    pct = np.minimum(np.arange(width, 100.0 + width, width), 100.0)[:k]
    return np.unique(np.percentile(values, pct))


def equal_interval_bins(values: np.ndarray, *, k: int) -> np.ndarray:
    """Upper bounds of ``k`` equal-width classes, as ``mapclassify.EqualInterval`` computes them."""
    lo, hi = float(np.min(values)), float(np.max(values))
    width = (hi - lo) / k
    cuts = lo + width * np.arange(1, k + 1)
    cuts[-1] = hi
    return cuts
