"""Probes: small end-to-end checks of how OneGrid behaves on hostile input, faults and races.

Each module ``bench/probes/<group>.py`` holds functions ``probe_<name>(tmp: pathlib.Path) -> None``
that drive the real product (real files, real SQLite stores, real child processes and signals) and
raise ``AssertionError`` when the behaviour is wrong. ``python -m bench.probes [GROUP ...]`` runs
them and prints tried / correct / wrong per group; see :mod:`bench.probes.__main__`.
"""
