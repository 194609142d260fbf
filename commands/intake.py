"""``intake``: take in a file of reports from a channel; one output row per input row, in order."""

from __future__ import annotations

import argparse
import json
import sys
import time

from commands._common import add_store, store_arg

NAME = "intake"
HELP = (
    "take in reports (CSV UTF-8/GB18030, XLSX, JSON lines, GeoJSON, Open311 JSON) as cases or duplicate "
    "reports, in one transaction; every row comes out with its case id or the reason it was refused"
)

CRS_CHOICES = ("EPSG:4326", "EPSG:4490", "EPSG:4549", "GCJ02", "BD09")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store(parser)
    parser.add_argument("--in", dest="src", required=True, metavar="FILE", help="the reports")
    parser.add_argument(
        "--channel",
        default=None,
        metavar="CODE",
        help="channel of every row without a channel column (C01…C12)",
    )
    parser.add_argument(
        "--crs",
        default="EPSG:4326",
        type=str.upper,
        choices=CRS_CHOICES,
        help="CRS of the coordinates (GCJ02 from WeChat/Amap and BD09 from Baidu are converted first)",
    )
    parser.add_argument("--actor", default="区联动中心受理员", help="who takes the file in (for the history)")
    parser.add_argument(
        "--out", default=None, metavar="FILE.csv", help="also write the per-row results as CSV"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary with every row")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def run(args: argparse.Namespace) -> int:
    from layers.district import open_district
    from layers.intake import intake_file

    t = time.perf_counter()
    district = open_district(store_arg(args), readonly=False)

    def progress(stage: str, done: int, total: int) -> None:
        if not args.quiet:
            print(f"\r{stage}: {done:,}/{total:,}", end="", file=sys.stderr, flush=True)

    try:
        result = intake_file(
            district, args.src, channel=args.channel, crs=args.crs, actor=args.actor, progress=progress
        )
    finally:
        if not args.quiet:
            print(file=sys.stderr)
        district.store.close()
    rows = result.rows.fillna({"case_id": ""})
    if args.out:
        rows.to_csv(args.out, index=False, encoding="utf-8-sig")
    summary = result.summary() | {"seconds": round(time.perf_counter() - t, 2)}
    if args.json:
        summary["rows"] = rows.to_dict(orient="records")
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        print("row\toutcome\tcase_id\treason\tnote")
        for r in rows.itertuples(index=False):
            print(f"{r.row}\t{r.outcome}\t{r.case_id}\t{r.reason}\t{r.note}")
        print(
            f"{len(rows):,} rows: {result.created:,} created, {result.duplicates:,} duplicate reports, "
            f"{result.existing:,} taken in before, {result.rejected:,} rejected (kept with their reasons, "
            f"batch {result.batch_id})"
        )
    return 1 if result.rejected else 0
