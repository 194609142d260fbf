"""``check-grids``: topology and code check of a grid file (exit 0 clean, 1 problems, 2 unreadable)."""

from __future__ import annotations

import argparse
import json

NAME = "check-grids"
HELP = (
    "check a grid file for invalid geometry, gaps, overlaps, slivers, spills out of parents or land, "
    "stray parts, and code, prefix and numbering errors; exit 0 when clean, 1 when problems were found"
)


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from exc
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a non-negative number")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from spatial.topology import Tolerances

    d = Tolerances()
    parser.add_argument(
        "--in",
        dest="input",
        metavar="FILE",
        required=True,
        help="grid file: GeoJSON, GeoPackage, Shapefile or GeoParquet, with a declared CRS",
    )
    parser.add_argument("--layer", default=None, help="layer to read from a multi-layer file")
    parser.add_argument(
        "--code-field", default="code", metavar="F", help="field of the grid code (default: code)"
    )
    parser.add_argument(
        "--parent-field",
        default=None,
        metavar="F",
        help="field of the parent's code (default: read from the code)",
    )
    parser.add_argument(
        "--level-field",
        default=None,
        metavar="F",
        help="field of the level 1/2/3 (default: read from the code)",
    )
    parser.add_argument(
        "--name-field", default=None, metavar="F", help="field of the grid name, shown in messages"
    )
    land = parser.add_mutually_exclusive_group()
    land.add_argument(
        "--land",
        default=None,
        metavar="FILE",
        help="land polygon(s) the top level must cover exactly (any declared CRS)",
    )
    land.add_argument(
        "--store",
        default=None,
        metavar="PATH",
        help="take the land from this store: its own grids' holes (lakes, a neighbour's enclave) are no gap",
    )
    parser.add_argument(
        "--flat",
        action="store_true",
        help="one level with arbitrary codes: no code format, parent or numbering checks",
    )
    parser.add_argument(
        "--gap-area",
        type=_non_negative,
        default=d.gap_area,
        metavar="M2",
        help=f"smallest gap reported, m² (default {d.gap_area:g})",
    )
    parser.add_argument(
        "--overlap-area",
        type=_non_negative,
        default=d.overlap_area,
        metavar="M2",
        help=f"smallest overlap reported, m² (default {d.overlap_area:g})",
    )
    parser.add_argument(
        "--sliver-width",
        type=_non_negative,
        default=d.sliver_width,
        metavar="M",
        help=f"grids thinner than this (2·area/perimeter, m) are slivers (default {d.sliver_width:g})",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=20,
        metavar="N",
        help="problems listed in the readable summary (default 20)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the whole report: a GeoJSON FeatureCollection (lon/lat) of the problems "
        "with the summary as foreign members",
    )


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict, replace

    from layers.grid_files import read_grid_file, read_land_file
    from spatial.topology import Tolerances, check_grids

    grids = read_grid_file(
        args.input,
        code_field=args.code_field,
        parent_field=args.parent_field,
        level_field=args.level_field,
        name_field=args.name_field,
        layer=args.layer,
    )
    land = read_land_file(args.land) if args.land else None
    if args.store:
        from layers.grids import load_land
        from layers.store import open_store

        with open_store(args.store, readonly=True) as store:
            land = load_land(store)
    tol = replace(
        Tolerances(), gap_area=args.gap_area, overlap_area=args.overlap_area, sliver_width=args.sliver_width
    )
    report = check_grids(
        grids.geoms,
        grids.codes,
        levels=grids.levels if grids.level_field and not args.flat else None,
        parents=grids.parents if grids.parent_field and not args.flat else None,
        land=land,
        tolerances=tol,
        hierarchical=not args.flat,
    )
    names = {}
    if grids.names is not None:
        names = {c: n for c, n in zip(grids.codes.tolist(), grids.names.tolist(), strict=True) if n}

    if args.json:
        doc = report.to_geojson()
        doc.update(
            {
                "file": grids.path.name,
                "source_crs": grids.source_crs,
                "xy_crs": report.crs,
                "ok": report.ok,
                "grids": report.grids,
                "levels": list(report.levels),
                "counts": report.counts(),
                "tolerances": asdict(report.tolerances),
                "land": land is not None,
            }
        )
        if names:
            features: list[dict[str, dict[str, object]]] = doc["features"]  # type: ignore[assignment]
            for feat in features:
                codes = str(feat["properties"]["codes"]).split(",")
                feat["properties"]["names"] = ",".join(names.get(c, "") for c in codes)
        print(json.dumps(doc, ensure_ascii=False, indent=1))
        return 0 if report.ok else 1

    levels = ", ".join(str(v) for v in report.levels) or "none"
    print(
        f"{grids.path.name}: {report.grids} grids (levels {levels}) from {grids.source_crs}, "
        f"checked in {report.crs}{' against the land' if land is not None else ''}"
    )
    if report.ok:
        print("no problems")
        return 0
    counts = report.counts()
    print(f"{len(report.problems)} problems: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    shown = report.problems[: max(args.limit, 0)]
    for p in shown:
        label = ",".join(f"{c} {names[c]}" if c in names else c for c in p.codes)
        measure = f"{p.measure:,.2f} {p.unit}".strip() if p.unit else ""
        level = f"L{p.level}" if p.level is not None else "  "
        print(f"  {p.kind:<20} {level}  {label}  {measure}  at ({p.x:,.1f}, {p.y:,.1f})  {p.message}")
    if len(shown) < len(report.problems):
        print(f"  … {len(report.problems) - len(shown)} more; --json lists them all")
    if counts.get("malformed_code", 0) == report.grids and not args.flat:
        print(
            "hint: no code fits the grid code scheme; --flat checks the geometry with codes as plain labels"
        )
    return 1
