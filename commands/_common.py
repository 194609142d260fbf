"""Options and progress shared by the commands."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import settings


def add_store(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="PATH",
        default=None,
        help="the store (default: $ONEGRID_STORE, else data/generated/onegrid.sqlite)",
    )


def store_arg(args: argparse.Namespace) -> Path:
    return settings.store_path(args.store)


def date_arg(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-26") from exc


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from exc
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def progress_bar(desc: str) -> tuple[Callable[[str, float], None], Callable[[], None]]:
    """A tqdm bar driven by (stage, fraction) callbacks; returns (callback, close)."""
    from tqdm import tqdm

    bar = tqdm(
        total=1000, desc=desc, unit="‰", bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}"
    )

    def update(stage: str, fraction: float) -> None:
        bar.set_description(f"{desc} ({stage})")
        bar.n = round(fraction * 1000)
        bar.refresh()

    return update, bar.close
