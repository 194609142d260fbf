"""``summary``: counts per layer and level, and the land area."""

from __future__ import annotations

import argparse
import json

from commands._common import add_store, store_arg

NAME = "summary"
HELP = "counts per layer and level, and the land area in km²"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    from layers.store import open_store
    from layers.summary import summary

    with open_store(store_arg(args), readonly=True) as store:
        info = summary(store)
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return 0
    g = info["grids"]
    print(f"{info['district']['name']} ({info['district']['code']})  store {info['store']}")
    print(
        f"land {info['land_area_km2']:.1f} km²; grids {g['level_1']} / {g['level_2']} / {g['level_3']}"
        f" (generation {info['generation']})"
    )
    print(
        f"components {info['components']:,} in {info['component_classes']} classes; "
        f"departments {info['departments']}; event types {info['event_types']}; "
        f"channels {info['channels']}; staff {info['staff']:,}"
    )
    c = info["cases"]
    print(
        f"cases {c['total']:,} ({c['first_reported']} … {c['last_reported']}); "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(c["by_status"].items()))
    )
    return 0
