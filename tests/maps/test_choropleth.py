from __future__ import annotations

import warnings

import numpy as np
import pytest

from maps.choropleth import NO_DATA, classify


def test_classes_cover_values_and_missing() -> None:
    v = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, np.nan], dtype=float)
    c = classify(v, k=5, scheme="quantiles")
    assert len(c.bins) == 5 and len(c.colors) == 5 and len(c.labels) == 5
    assert c.yb[-1] == -1 and c.color_of()[-1] == NO_DATA
    assert (c.yb[:-1] >= 0).all() and c.yb[0] == 0 and c.yb[9] == 4
    assert c.bins[-1] == 10


@pytest.mark.parametrize("scheme", ["quantiles", "natural_breaks", "equal_interval"])
def test_fewer_distinct_values_than_classes(scheme: str) -> None:
    c = classify(np.array([0.0, 0.0, 1.0, 1.0]), k=5, scheme=scheme)
    assert len(c.bins) == 2 and set(c.yb.tolist()) == {0, 1}


def test_constant_and_empty() -> None:
    assert classify(np.array([3.0, 3.0]), k=5).labels == ("3.0",)
    assert classify(np.array([np.nan]), k=5).bins == ()


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="unknown classification scheme"):
        classify(np.array([1.0]), scheme="jenks?")
    with pytest.raises(ValueError, match="k must be"):
        classify(np.array([1.0]), k=12)


@pytest.mark.parametrize("k", [3, 5, 7])
def test_numpy_classes_match_mapclassify(k: int) -> None:
    import mapclassify

    from maps.choropleth import equal_interval_bins, quantile_bins

    rng = np.random.default_rng(k)
    for values in (rng.lognormal(size=887), rng.integers(0, 4, size=205).astype(float), rng.random(14)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "not enough unique values": the case under test
            q = mapclassify.Quantiles(values, k=k)
        np.testing.assert_allclose(quantile_bins(values, k=k), q.bins)
        e = mapclassify.EqualInterval(values, k=k)
        np.testing.assert_allclose(equal_interval_bins(values, k=k), e.bins)
        # Printed finely enough that no two bounds read alike (those would be merged into one class).
        c = classify(values, k=k, scheme="quantiles", fmt=lambda v: f"{v:.9g}")
        if len(np.unique(values)) >= k:
            np.testing.assert_array_equal(c.yb, q.yb)


def _within(label: str, value: float, parse: object) -> bool:
    lo, _, hi = label.partition(" – ")
    return parse(lo) <= value <= parse(hi or lo)  # type: ignore[operator]


def test_count_classes_are_whole_and_distinct() -> None:
    """Overdue counts, mostly 0: no "0 – 0" or "0 – 1" rows, each class a distinct whole range."""
    from maps.choropleth import classify

    v = np.array([0.0] * 40 + [1.0] * 6 + [2.0, 3.0, 5.0, 9.0])
    c = classify(v, k=5, integer=True, fmt=lambda x: f"{x:,.0f}")
    assert len(set(c.labels)) == len(c.labels)
    assert c.labels[0] == "0" and all(lab != "0 – 0" for lab in c.labels)
    for value, cls in zip(v, c.yb, strict=True):
        assert _within(c.labels[cls], value, float), (value, c.labels[cls])
    # consecutive classes do not share a whole number
    bounds = [lab.partition(" – ") for lab in c.labels]
    starts = [float(lo) for lo, _, _ in bounds]
    ends = [float(hi or lo) for lo, _, hi in bounds]
    assert all(starts[i + 1] == ends[i] + 1 for i in range(len(c.labels) - 1))


def test_rate_classes_never_round_up_to_100_percent() -> None:
    """Closure rates crowded near 1: classes distinct, only exactly 1 reads 100 %."""
    from maps.choropleth import classify, rate_text

    v = np.array([0.962, 0.981, 0.9951, 0.997, 0.9993, 0.9996, *[1.0] * 12, np.nan])
    c = classify(v, k=5, higher_is_worse=False, fmt=rate_text)
    assert len(set(c.labels)) == len(c.labels), c.labels
    for lab in c.labels:
        lo, _, hi = lab.partition(" – ")
        assert lo != hi
    assert [lab for lab in c.labels if "100.0%" in lab] == [c.labels[-1]]
    for value, cls in zip(v[:-1], c.yb[:-1], strict=True):
        assert _within(c.labels[cls], float(np.floor(value * 1000 + 1e-6) / 10), lambda s: float(s[:-1]))


def test_rate_text_cuts_down() -> None:
    from maps.choropleth import rate_floor, rate_text

    assert rate_text(0.997) == "99.7%"  # held as 0.99699… in binary
    assert rate_text(5883 / 5884) == "99.9%"
    assert rate_text(0.99999) == "99.9%" and rate_text(1.0) == "100.0%"
    assert rate_text(float("nan")) == "–" and rate_text(0.0) == "0.0%"
    assert rate_floor(np.array([0.12345, 1.0]), decimals=2).tolist() == [12.34, 100.0]


def test_a_crowd_at_the_top_is_a_class_of_its_own() -> None:
    """80 % of the grids close every case: quintile bounds are all 100 %. The grids that lag still
    get classes of their own instead of one class from 50 % to 100 %."""
    from maps.choropleth import classify, rate_text

    rng = np.random.default_rng(3)
    v = np.concatenate([np.ones(700), rng.uniform(0.5, 0.999, 187)])
    c = classify(v, k=5, higher_is_worse=False, fmt=rate_text)
    assert len(c.bins) == 5 and c.bins[-1] == 1.0
    top = c.yb == len(c.bins) - 1
    assert (v[top] == 1.0).all() and top.sum() == 700  # the crowd alone in the top class
    sizes = np.bincount(c.yb[~top])
    assert len(sizes) == 4 and sizes.min() >= 30  # the rest split evenly enough to read


def test_crowded_counts_split_on_whole_numbers() -> None:
    from maps.choropleth import classify

    v = np.array([0.0] * 755 + [1.0] * 110 + [2.0] * 16 + [3.0] * 4 + [5.0, 6.0])
    c = classify(v, k=5, integer=True, fmt=lambda x: f"{x:,.0f}")
    assert c.labels == ("0", "1", "2", "3", "4 – 6")


def test_reference_classes_are_the_same_for_every_month() -> None:
    january = np.array([1.0, 2.0, 3.0, 40.0])
    february = np.array([10.0, 20.0, 30.0, np.nan])
    both = np.concatenate([january, february])
    a = classify(january, k=4, reference=both)
    b = classify(february, k=4, reference=both)
    assert a.bins == b.bins == classify(both, k=4).bins and a.labels == b.labels and a.colors == b.colors
    assert b.yb[-1] == -1  # missing stays missing
    # The same value gets the same colour in either month.
    assert a.color_of()[3] == classify(np.array([40.0]), k=4, reference=both).color_of()[0]
