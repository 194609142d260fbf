"""``compare-grids``: what a candidate grid file would change against the current generation."""

from __future__ import annotations

import argparse
import sys

from commands._common import add_store, store_arg

NAME = "compare-grids"
HELP = "compare a candidate grid file with the current grids: grids, components and open cases that change"


def add_candidate(parser: argparse.ArgumentParser) -> None:
    """Options naming the candidate file and its fields (shared with ``adopt-grids``).

    The file is ``--in``, as in ``check-grids`` and ``assign``; ``--candidate``, the earlier
    spelling, still works.
    """
    given = parser.add_mutually_exclusive_group(required=True)
    given.add_argument(
        "--in",
        dest="candidate",
        metavar="FILE",
        help="the candidate grids: .geojson, .gpkg, .shp or .parquet, one polygon per grid, any declared CRS",
    )
    given.add_argument(
        "--candidate",
        dest="candidate_old",
        metavar="FILE",
        help="deprecated: the earlier spelling of --in; it still works",
    )
    parser.add_argument("--code-field", default="code", help="field of the grid code (default: code)")
    parser.add_argument(
        "--parent-field", default=None, help="field of the parent code (default: from the code)"
    )
    parser.add_argument("--level-field", default=None, help="field of the level (default: from the code)")
    parser.add_argument("--name-field", default=None, help="field of the name (default: name, if present)")
    parser.add_argument("--layer", default=None, help="layer of a multi-layer file (GeoPackage)")


def read_candidate_arg(args: argparse.Namespace):  # -> geopandas.GeoDataFrame
    from layers.planner import read_candidate

    if args.candidate is None:
        print("note: --candidate is deprecated; name the file with --in", file=sys.stderr)
        args.candidate = args.candidate_old
    return read_candidate(
        args.candidate,
        code_field=args.code_field,
        parent_field=args.parent_field,
        level_field=args.level_field,
        name_field=args.name_field,
        layer=args.layer,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store(parser)
    add_candidate(parser)
    parser.add_argument("--json", action="store_true", help="the whole comparison as JSON, with the lists")
    parser.add_argument("--top", type=int, default=10, help="rows shown per list in the summary (default 10)")


def summary_lines(cmp, *, top: int = 10) -> list[str]:  # cmp: layers.planner.GridComparison
    """The comparison as lines for a terminal."""
    lines = [f"against generation {cmp.generation} (unchanged within {cmp.tolerance_m2:g} m²)"]
    lines.append(
        f"{'level':>5} {'current':>8} {'candidate':>9} {'added':>6} {'removed':>7} "
        f"{'reshaped':>8} {'unchanged':>9}"
    )
    for r in cmp.per_level.itertuples(index=False):
        lines.append(
            f"{r.level:>5} {r.current:>8} {r.candidate:>9} {r.added:>6} {r.removed:>7} "
            f"{r.reshaped:>8} {r.unchanged:>9}"
        )
    for title, frame in (("added", cmp.added), ("removed", cmp.removed)):
        if len(frame):
            more = " …" if len(frame) > top else ""
            lines.append(f"{title}: " + ", ".join(frame["code"].head(top)) + more)
    if len(cmp.reshaped):
        lines.append(f"reshaped ({len(cmp.reshaped)}), largest first:")
        big = cmp.reshaped.sort_values("symdiff_m2", ascending=False).head(top)
        for r in big.itertuples(index=False):
            lines.append(
                f"  {r.code} (level {r.level}): area {r.area_before_m2:,.0f} → "
                f"{r.area_after_m2:,.0f} m² ({r.area_change_pct:+.1f}%), "
                f"symmetric difference {r.symdiff_m2:,.0f} m²"
            )
    if len(cmp.relabelled):
        lines.append(f"relabelled: {len(cmp.relabelled)} field change(s)")
    for title, moves, pairs, total in (
        ("components", cmp.component_moves, cmp.component_pairs, cmp.components_total),
        ("open cases", cmp.case_moves, cmp.case_pairs, cmp.open_cases_total),
    ):
        lines.append(f"{title}: {len(moves):,} of {total:,} would change level-3 grid")
        for r in pairs.head(top).itertuples(index=False):
            lines.append(f"  {r.from_grid or '(none)'} → {r.to_grid or '(no grid)'}: {r.count:,}")
    return lines


def run(args: argparse.Namespace) -> int:
    from layers.planner import compare_grids
    from layers.store import open_store

    candidate = read_candidate_arg(args)
    with open_store(store_arg(args), readonly=True) as store:
        cmp = compare_grids(store, candidate)
    if args.json:
        print(cmp.to_json())
        return 0
    print(f"candidate {args.candidate}: {len(candidate)} grids")
    print("\n".join(summary_lines(cmp, top=args.top)))
    return 0
