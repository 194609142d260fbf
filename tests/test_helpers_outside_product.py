"""Helpers that only tests and benchmarks use live outside the product's packages."""

from __future__ import annotations

import layers.components
import layers.planner


def test_test_only_helpers_are_not_product_code() -> None:
    assert not hasattr(layers.planner, "reshape_candidate")  # bench/workloads.py
    assert not hasattr(layers.components, "write_components")  # tests/helpers.py
