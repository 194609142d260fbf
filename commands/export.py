"""``export``: write a layer to GeoPackage, GeoJSON, GeoParquet, CSV or XLSX."""

from __future__ import annotations

import argparse

from commands._common import add_store, store_arg
from layers.export import FORMATS, LAYERS

NAME = "export"
HELP = "export a layer (grids, land, components, cases, event_types, departments, staff) to a file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store(parser)
    parser.add_argument("--layer", required=True, choices=LAYERS)
    parser.add_argument("--format", required=True, choices=FORMATS, dest="fmt")
    parser.add_argument("--out", required=True, metavar="FILE")
    parser.add_argument("--crs", default="EPSG:4326", help="EPSG:4326 (default), EPSG:4490 or EPSG:4549")
    parser.add_argument(
        "--reveal-personal-data",
        action="store_true",
        dest="reveal",
        help="staff: export names, ID numbers and phones unmasked",
    )


def run(args: argparse.Namespace) -> int:
    from layers.export import export_layer
    from layers.store import open_store

    with open_store(store_arg(args), readonly=True) as store:
        n = export_layer(
            store, layer=args.layer, fmt=args.fmt, out=args.out, crs=args.crs, reveal_personal=args.reveal
        )
    print(f"wrote {n:,} {args.layer} to {args.out} ({args.fmt}, {args.crs})")
    return 0
