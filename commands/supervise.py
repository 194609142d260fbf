"""``supervise``: record yellow and red cards, and list what is due soon and overdue."""

from __future__ import annotations

import argparse
import json

from commands._common import add_store, store_arg

NAME = "supervise"
HELP = "督办: record yellow cards (80 %% of the time used) and red cards (overdue); counts per body, town or centre"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store(parser)
    parser.add_argument("--by", choices=("dept", "town", "centre"), default="town", help="count per …")
    parser.add_argument("--hours", type=float, default=24.0, help="'due soon' means within this many hours")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    from layers import cases
    from layers.store import open_store

    with open_store(store_arg(args)) as store:
        issued = cases.issue_cards(store)
        table = cases.card_counts(store, by=args.by, within_hours=args.hours)
    if args.json:
        print(
            json.dumps(
                {"issued": issued, "by": args.by, "rows": table.to_dict(orient="records")}, ensure_ascii=False
            )
        )
    else:
        print(f"cards recorded now: {issued['yellow']:,} yellow, {issued['red']:,} red")
        print(table.to_string(index=False))
    return 0
