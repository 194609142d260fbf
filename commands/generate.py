"""``generate``: make a whole district store (grids, components, catalog, staff, cases)."""

from __future__ import annotations

import argparse
import json

import settings
from commands._common import add_store, date_arg, non_negative_int, positive_int, progress_bar, store_arg

NAME = "generate"
HELP = "generate the default district (Wuzhong) into a new store; deterministic for a seed and end date"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store(parser)
    parser.add_argument("--seed", type=non_negative_int, default=settings.DEFAULT_SEED, help="random seed")
    parser.add_argument(
        "--days", type=positive_int, default=settings.DEFAULT_DAYS, help="days of case history (default 365)"
    )
    parser.add_argument("--end", type=date_arg, default=None, help="last day of case history (default today)")
    parser.add_argument("--force", action="store_true", help="replace an existing OneGrid store")
    parser.add_argument(
        "--boundary",
        default=str(settings.BOUNDARY_FILE),
        help="district boundary file (GeoJSON or GeoPackage with a CRS)",
    )
    parser.add_argument("--lake", default=str(settings.LAKE_FILE), help="water polygon taken out of the land")
    parser.add_argument(
        "--components", type=positive_int, default=680_000, dest="n_components", help=argparse.SUPPRESS
    )  # smaller districts for tests
    parser.add_argument("--per-day", type=float, default=2500.0, help=argparse.SUPPRESS)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the generation report as JSON")


def run(args: argparse.Namespace) -> int:
    from layers.generate.build import generate_store

    path = store_arg(args)
    update, close = (None, lambda: None) if args.quiet else progress_bar("generating")
    try:
        report = generate_store(
            path,
            seed=args.seed,
            days=args.days,
            end=args.end,
            force=args.force,
            n_components=args.n_components,
            per_day=args.per_day,
            boundary=args.boundary,
            lake=args.lake,
            progress=update,
        )
    finally:
        close()
    if args.json:
        print(
            json.dumps(
                {
                    "store": str(report.path),
                    "seed": report.seed,
                    "days": report.days,
                    "end": report.end.isoformat(),
                    "counts": report.counts,
                    "seconds": {k: round(v, 2) for k, v in report.seconds.items()},
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        total = sum(report.seconds.values())
        print(
            f"generated {report.path} in {total:.0f} s: "
            + ", ".join(f"{k} {v:,}" for k, v in report.counts.items())
        )
    return 0
