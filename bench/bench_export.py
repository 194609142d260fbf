"""Benchmark: exporting the grid staff with their personal data masked.

Target: ``python cli.py export --layer staff`` on the full district in ≤ 2 s, end to end (a child
process: interpreter start, imports, reading the store, masking, writing the file).

    python -m bench.bench_export [--store PATH] [--repeat 3] [--json]

The peer, in the same run and on the same roster: masking one value at a time, as the export did
before the masks took whole columns. The store is only read.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import settings
from bench.bench_generate import machine
from layers.staff import PERSONAL_COLUMNS, mask_id_number, mask_name, mask_personal, mask_phone
from layers.store import open_store

ROOT = Path(__file__).resolve().parents[1]
FORMATS = ("csv", "xlsx", "gpkg")


def _best(times: list[float]) -> float:
    return round(min(times), 3)


def cli_export(store: Path, *, fmt: str, repeat: int) -> tuple[float, int]:
    """Best wall time of ``cli.py export --layer staff`` in a child process, and the rows it wrote."""
    times = []
    out = ""
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeat):
            target = Path(tmp) / f"staff.{fmt}"
            t = time.perf_counter()
            proc = subprocess.run(
                [
                    sys.executable,
                    str(ROOT / "cli.py"),
                    "export",
                    "--store",
                    str(store),
                    "--layer",
                    "staff",
                    "--format",
                    fmt,
                    "--out",
                    str(target),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            times.append(time.perf_counter() - t)
            if proc.returncode != 0:
                raise SystemExit(f"export failed ({proc.returncode}): {proc.stderr.strip()}")
            out = proc.stdout.strip()
    # "wrote 6,161 staff to …": the count of rows written
    return _best(times), int(out.split()[1].replace(",", ""))


def masking(store: Path, *, repeat: int) -> dict[str, object]:
    """Column masks against one call per value, on the store's whole roster (same answers)."""
    with open_store(store, readonly=True) as s:
        roster = s.read_arrow("SELECT id, grid_code, name, id_number, phone FROM staff").to_pandas()
    per_value = {"name": mask_name, "id_number": mask_id_number, "phone": mask_phone}
    col_times, row_times = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        by_column = mask_personal(roster)
        col_times.append(time.perf_counter() - t)
    for _ in range(max(1, repeat // 3)):  # the slow peer: one run is enough to see it
        t = time.perf_counter()
        by_value = {c: [per_value[c](v) for v in roster[c]] for c in PERSONAL_COLUMNS}
        row_times.append(time.perf_counter() - t)
    same = all(by_column[c].tolist() == by_value[c] for c in PERSONAL_COLUMNS)
    return {
        "staff": len(roster),
        "mask_by_column_s": _best(col_times),
        "mask_one_value_at_a_time_s": _best(row_times),
        "same_answers": same,
    }


def run(store: Path, *, repeat: int = 3) -> dict[str, object]:
    result: dict[str, object] = {"machine": machine(), "store": str(store)}
    result |= masking(store, repeat=repeat)
    for fmt in FORMATS:
        seconds, rows = cli_export(store, fmt=fmt, repeat=repeat)
        result[f"cli_export_staff_{fmt}_s"] = seconds
        result[f"cli_export_staff_{fmt}_rows"] = rows
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", default=None, help="store to read (default: ONEGRID_STORE or the default)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (the best is kept)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    result = run(settings.store_path(args.store), repeat=args.repeat)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        for k, v in result.items():
            print(f"{k:42s} {v}")
    ok = result["same_answers"] and all(result[f"cli_export_staff_{f}_s"] <= 2.0 for f in FORMATS)  # type: ignore[operator]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
