"""The governance layers and their store: grids, components, catalog, cases, staff, assessment."""
