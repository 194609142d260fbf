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


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from exc


def positive_int(text: str) -> int:
    """A count that must be at least 1 (days, components)."""
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not positive; give 1 or more")
    return value


def non_negative_int(text: str) -> int:
    """A whole number that may be 0 (a random seed)."""
    value = _whole(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; give 0 or more")
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
