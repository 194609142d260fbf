"""``profile``: the seed's figures beside the store's, and the distributions a reviewer checks."""

from __future__ import annotations

import argparse
import json

from commands._common import add_store, store_arg

NAME = "profile"
HELP = "the seed's figures beside the store's, and the distributions with their plausible ranges"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    from layers.profile import format_table, profile
    from layers.store import open_store

    with open_store(store_arg(args), readonly=True) as store:
        figures = profile(store)
    if args.json:
        print(json.dumps([f.as_dict() for f in figures], ensure_ascii=False, indent=2))
    else:
        print(format_table(figures))
    return 0
