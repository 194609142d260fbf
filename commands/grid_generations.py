"""``grid-generations``: the store's grid generations (past, current, scheduled); cancel a scheduled one."""

from __future__ import annotations

import argparse

from commands._common import add_store, store_arg

NAME = "grid-generations"
HELP = "list the grid generations (past, current and scheduled) or cancel the scheduled one"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store(parser)
    parser.add_argument(
        "--cancel-scheduled",
        action="store_true",
        help="withdraw the generation adopted for a day still to come (its grids are deleted)",
    )
    parser.add_argument("--json", action="store_true", help="print the list as JSON")


def run(args: argparse.Namespace) -> int:
    from layers.planner import cancel_scheduled, generations
    from layers.store import open_store

    with open_store(store_arg(args), readonly=not args.cancel_scheduled) as store:
        if args.cancel_scheduled:
            print(f"cancelled the scheduled generation {cancel_scheduled(store)}")
        table = generations(store)
    if args.json:
        print(table.to_json(orient="records", force_ascii=False, indent=2))
        return 0
    for r in table.itertuples(index=False):
        until = f"until {r.valid_to}" if r.valid_to else "open"
        print(f"{r.id:>3} {r.status:<9} from {r.valid_from} {until:<16} {r.grids:>5} grids  {r.note}")
    return 0
