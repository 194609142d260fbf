"""``assess``: the monthly (or bimonthly, or any months') assessment, ranked, as text, JSON, CSV or XLSX."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from commands._common import add_store, store_arg

NAME = "assess"
HELP = "score and rank towns, departments, communities or centres for a month (考核排名)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store(parser)
    parser.add_argument("--month", required=True, metavar="YYYY-MM", help="the (first) month assessed")
    parser.add_argument(
        "--to",
        metavar="YYYY-MM",
        default=None,
        help="the last month, for a bimonthly bulletin or a longer span",
    )
    parser.add_argument(
        "--by", choices=("town", "department", "community", "centre"), default="town", help="what is ranked"
    )
    parser.add_argument("--code", default=None, help="show one unit only (a town's, department's… code)")
    parser.add_argument(
        "--weights", metavar="FILE", default=None, help="scoring schemes (TOML; default: the shipped schemes)"
    )
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the ranking as JSON")
    out.add_argument("--csv", metavar="FILE", default=None, help="write the ranking as CSV")
    out.add_argument("--xlsx", metavar="FILE", default=None, help="write the report as XLSX")


def run(args: argparse.Namespace) -> int:
    from layers import assessment
    from layers.indicators import Period, rate_text
    from layers.store import open_store

    schemes = assessment.load_schemes(args.weights)  # a bad file is refused before the store is read
    period = Period.of_months(args.month, args.to)
    with open_store(store_arg(args), readonly=True) as store:
        result = assessment.assess(store, period, by=args.by, schemes=schemes, code=args.code)
        if args.json:
            print(assessment.report_json(result))
            return 0
        if args.csv:
            assessment.write_csv(result, Path(args.csv))
            print(f"wrote {len(result.rows)} rows to {args.csv}", file=sys.stderr)
            return 0
        if args.xlsx:
            assessment.write_xlsx(store, result, Path(args.xlsx))
            print(f"wrote the report of {len(result.rows)} units to {args.xlsx}", file=sys.stderr)
            return 0
    print(f"{result.scheme.title_zh} · {result.scheme.title_en} · {period.label} (as of {result.as_of})")
    print(f"{'rank':>4}  {'score':>6}  {'closure':>8}  {'on time':>8}  {'satisf.':>8}  {'overdue':>7}  name")
    for r in result.rows.to_dict(orient="records"):
        rank = "—" if r["rank"] != r["rank"] else f"{int(r['rank'])}{'=' if r['tied'] else ''}"
        mark = "  ▼ bottom three" if r["bottom"] else ""
        score = "—" if r["score"] != r["score"] else f"{r['score']:.2f}"
        print(
            f"{rank:>4}  {score:>6}  {rate_text(r['closure_rate']):>8}  {rate_text(r['on_time_rate']):>8}  "
            f"{rate_text(r['satisfaction_rate']):>8}  {int(r['overdue']):>7}  {r['name']} ({r['code']}){mark}"
        )
    if result.rows.empty:
        print("no unit had a case in this period")
    return 0
