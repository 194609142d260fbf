"""``adopt-grids``: make a candidate grid file the current generation, or refuse it with its problems."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from commands._common import add_store, date_arg, store_arg
from commands.compare_grids import add_candidate, read_candidate_arg, summary_lines

NAME = "adopt-grids"
HELP = (
    "adopt a candidate grid file as a new generation from a date; refused (exit 1) if its topology "
    "has problems"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store(parser)
    add_candidate(parser)
    parser.add_argument(
        "--valid-from",
        required=True,
        type=date_arg,
        metavar="DATE",
        help="first day of the new generation (after the current one's start); a day still to come "
        "schedules it: the current grids stay in use until the store is first opened on or after it",
    )
    parser.add_argument(
        "--actor", default=None, help="who adopts it, for the history (default: the login name)"
    )
    parser.add_argument("--note", default="", help="a note kept with the generation")
    parser.add_argument(
        "--report",
        default=None,
        metavar="FILE.geojson",
        help="if refused, write the problems there as GeoJSON (lon/lat)",
    )
    parser.add_argument("--json", action="store_true", help="print the result (or the problems) as JSON")


def run(args: argparse.Namespace) -> int:
    from layers.planner import CandidateRejectedError, adopt_grids
    from layers.store import open_store

    candidate = read_candidate_arg(args)
    actor = args.actor or getpass.getuser()
    with open_store(store_arg(args)) as store:
        try:
            result = adopt_grids(store, candidate, valid_from=args.valid_from, actor=actor, note=args.note)
        except CandidateRejectedError as exc:
            report = exc.report
            if args.report:
                Path(args.report).write_text(
                    json.dumps(report.to_geojson(), ensure_ascii=False), encoding="utf-8"
                )
            if args.json:
                print(
                    json.dumps(
                        {"adopted": False, "counts": report.counts(), "problems": report.to_records()},
                        ensure_ascii=False,
                        indent=2,
                    )
                )
            else:
                print(
                    f"refused: {len(report.problems)} topology problem(s); nothing was written",
                    file=sys.stderr,
                )
                for kind, n in report.counts().items():
                    print(f"  {kind}: {n}", file=sys.stderr)
                for p in report.problems[:20]:
                    print(f"  [{p.kind}] {','.join(p.codes)}: {p.message}", file=sys.stderr)
                if len(report.problems) > 20:
                    print(
                        f"  … and {len(report.problems) - 20} more"
                        + ("" if args.report else " (write them all with --report FILE.geojson)"),
                        file=sys.stderr,
                    )
                if args.report:
                    print(f"  all problems written to {args.report}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps({"adopted": True, **result.to_dict()}, ensure_ascii=False, indent=2))
        return 0
    if result.scheduled:
        print(
            f"scheduled generation {result.generation} from {result.valid_from.isoformat()}, by "
            f"{result.actor}: {result.grids_written} grids stored; generation {result.previous_generation} "
            "stays current until then, and the new one takes effect (components and open cases "
            "reassigned) when the store is first opened on or after that day"
        )
        print("\n".join(summary_lines(result.comparison)[: 2 + len(result.comparison.per_level)]))
        return 0
    print(
        f"adopted generation {result.generation} from {result.valid_from.isoformat()} "
        f"(generation {result.previous_generation} now ends then), by {result.actor}"
    )
    print(
        f"{result.grids_written} grids written; {result.components_reassigned:,} components and "
        f"{result.cases_reassigned:,} open cases reassigned; {result.cases_moved_to_generation:,} other "
        "open cases follow the new generation; closed cases keep their grid"
    )
    print("\n".join(summary_lines(result.comparison)))
    print(f"took {result.seconds.get('total', 0.0):.1f} s")
    return 0
