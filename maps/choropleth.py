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
) -> Classes:
    """Split ``values`` into at most ``k`` classes; fewer when there are fewer distinct values."""
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
    bins = tuple(float(b) for b in upper)
    yb[ok] = np.searchsorted(upper, v[ok], side="left")
    # Spread the used colours over the palette so few classes still run light to dark.
    idx = np.linspace(0, len(palette) - 1, len(bins)).round().astype(int)
    colors = tuple(palette[i] for i in idx)
    lows = (float(v[ok].min()), *bins[:-1])
    labels = tuple(f"{fmt(lo)} – {fmt(hi)}" for lo, hi in zip(lows, bins, strict=True))
    return Classes(bins=bins, colors=colors, labels=labels, yb=yb)


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
