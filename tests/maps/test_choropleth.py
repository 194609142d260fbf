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
        c = classify(values, k=k, scheme="quantiles")
        if len(np.unique(values)) >= k:
            np.testing.assert_array_equal(c.yb, q.yb)
