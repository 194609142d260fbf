"""``forecast``: case counts per town and event major class for the next 1–3 months, with the backtest."""

from __future__ import annotations

import argparse
import json

from commands._common import add_store, store_arg

NAME = "forecast"
HELP = "forecast case counts per town and event class 1–3 months ahead, backtested against seasonal naive"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store(parser)
    parser.add_argument(
        "--series", action="append", default=None, metavar="NAME",
        help="district, town:<code> or major:<code> (repeatable; default: all)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    from layers.forecast import backtest_and_forecast
    from layers.store import open_store

    with open_store(store_arg(args), readonly=True) as store:
        fc = backtest_and_forecast(store, series=args.series)
    if args.json:
        out = {
            "months": fc.months,
            "summary": fc.summary.to_dict(orient="records"),
            "errors": fc.errors.to_dict(orient="records"),
            "forecast": fc.forecast.to_dict(orient="records"),
        }
        print(
            json.dumps(out, ensure_ascii=False, indent=2, allow_nan=False, default=str).replace("NaN", "null")
        )
        return 0
    s = fc.summary
    print(
        f"history {fc.months[0]}..{fc.months[-1]} ({len(fc.months)} whole months); backtest origins over the last year"
    )
    print(
        f"{'series':<22} {'baseline':<15} {'MAE base':>9} {'WAPE base':>9} {'MAE ETS':>9} {'WAPE ETS':>9}  winner"
    )
    for r in s.to_dict(orient="records"):
        print(
            f"{r['series']:<22} {r['baseline']:<15} {r['mae_baseline']:>9.1f} {r['wape_baseline']:>9.1%} "
            f"{r['mae_ets']:>9.1f} {r['wape_ets']:>9.1%}  {r['winner']}"
        )
    total_b = (s["mae_baseline"]).mean()
    total_e = (s["mae_ets"]).mean()
    wins = int((s["winner"] == "ets").sum())
    print(
        f"mean MAE over {len(s)} series: baseline {total_b:.1f}, ETS {total_e:.1f}; ETS wins {wins}, baseline {len(s) - wins}"
    )
    return 0
