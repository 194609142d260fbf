"""Generators of the synthetic default district: land, grids, streets and components."""
