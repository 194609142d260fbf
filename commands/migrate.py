"""``migrate``: copy a store between a SQLite file and a PostgreSQL/PostGIS database (either way)."""

from __future__ import annotations

import argparse
import json

NAME = "migrate"
HELP = (
    "copy a whole store between a SQLite file and a postgresql:// database (either way), "
    "checked by row counts and checksums per table"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="source", required=True, metavar="STORE", help="a store file or URL")
    parser.add_argument("--to", dest="target", required=True, metavar="STORE", help="a store file or URL")
    parser.add_argument("--force", action="store_true", help="replace a store already at --to")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from layers.migrate import migrate
    from layers.pgstore import shown

    bar = None if args.quiet else tqdm(desc="migrating", unit=" tables")

    def progress(stage: str, done: int, total: int) -> None:
        if bar is not None:
            bar.total = total * 2
            bar.n = done + (total if stage.startswith("check ") else 0)
            bar.set_postfix_str(stage)
            bar.refresh()

    try:
        report = migrate(args.source, args.target, force=args.force, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    tables = [{"table": t.table, "rows": t.rows, "sha256": t.checksum} for t in report.tables]
    if args.json:
        out = {"from": shown(report.source), "to": shown(report.target), "seconds": round(report.seconds, 2)}
        print(json.dumps({**out, "tables": tables}, ensure_ascii=False, indent=2))
        return 0
    width = max(len(t.table) for t in report.tables)
    for t in report.tables:
        print(f"{t.table:<{width}}  {t.rows:>12,}  {t.checksum[:16]}")
    print(
        f"copied {shown(report.source)} to {shown(report.target)} in {report.seconds:.1f} s: "
        f"{len(report.tables)} tables, {sum(t.rows for t in report.tables):,} rows, every count and checksum equal"
    )
    return 0
