"""Run the probe suite: ``python -m bench.probes [GROUP ...] [--package PKG]``.

Every module of the package not starting with ``_`` is a group; every function named
``probe_<name>`` in it is one probe, called with a fresh empty temporary folder. A probe is correct
when it returns; it is wrong when it raises: ``AssertionError`` (the behaviour is wrong) or any
other exception (shown with its type). The table lists, per group, how many probes were tried, how
many were correct and how many wrong, then each wrong one with its message. Exit status 0 when all
were correct, 1 when any was wrong, 2 when a named group does not exist.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

DEFAULT_PACKAGE = "bench.probes"


@dataclass(frozen=True)
class Outcome:
    group: str
    name: str
    wrong: str | None  # None: correct; else "Type: message"
    seconds: float


def groups(package: str) -> list[str]:
    """The probe groups of ``package``: its modules not starting with ``_``, sorted."""
    pkg = importlib.import_module(package)
    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))


def probes_of(module: ModuleType) -> list[tuple[str, Callable[[Path], None]]]:
    """The ``probe_*`` functions of a module, in the order they are written."""
    found = [
        (name, fn)
        for name, fn in vars(module).items()
        if name.startswith("probe_") and inspect.isfunction(fn) and fn.__module__ == module.__name__
    ]
    return sorted(found, key=lambda item: item[1].__code__.co_firstlineno)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or "(no message)"
    if isinstance(exc, AssertionError):
        return text
    # Not an assertion: the probe itself broke, so say where.
    last = traceback.extract_tb(exc.__traceback__)[-1:] or []
    where = f" (at {Path(last[0].filename).name}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {text}{where}"


def run_probe(group: str, name: str, fn: Callable[[Path], None]) -> Outcome:
    """Run one probe in a fresh temporary folder, removed afterwards."""
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"probe-{group}-") as tmp:
        try:
            fn(Path(tmp))
        except Exception as exc:  # every failure of a probe is a result to report, not a crash
            return Outcome(group, name, _describe(exc), time.perf_counter() - t0)
    return Outcome(group, name, None, time.perf_counter() - t0)


def run(
    package: str, names: Sequence[str] = (), *, echo: Callable[[str], None] | None = None
) -> list[Outcome]:
    """Run the probes of the named groups (all when none are named)."""
    available = groups(package)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise LookupError(f"no probe group {', '.join(unknown)}; the groups are {', '.join(available)}")
    outcomes: list[Outcome] = []
    for group in names or available:
        module = importlib.import_module(f"{package}.{group}")
        for name, fn in probes_of(module):
            out = run_probe(group, name, fn)
            if echo is not None:
                echo(f"{'ok' if out.wrong is None else 'WRONG':<6}{group}.{name} ({out.seconds:.1f} s)")
            outcomes.append(out)
    return outcomes


def table(outcomes: Sequence[Outcome]) -> str:
    """The results as a table (group, tried, correct, wrong), then the wrong ones with their messages."""
    order = list(dict.fromkeys(o.group for o in outcomes))
    width = max([len("group"), len("total"), *(len(g) for g in order)])
    lines = [f"{'group':<{width}}  {'tried':>5}  {'correct':>7}  {'wrong':>5}"]
    for g in [*order, None]:
        rows = [o for o in outcomes if g is None or o.group == g]
        bad = sum(o.wrong is not None for o in rows)
        lines.append(f"{g or 'total':<{width}}  {len(rows):>5}  {len(rows) - bad:>7}  {bad:>5}")
    wrong = [o for o in outcomes if o.wrong is not None]
    if wrong:
        lines.append("")
        lines.append("wrong:")
        lines.extend(f"  {o.group}.{o.name}: {o.wrong}" for o in wrong)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.probes", description=__doc__.split("\n\n")[0])
    parser.add_argument("groups", nargs="*", metavar="GROUP", help="groups to run (default: all)")
    parser.add_argument("--package", default=DEFAULT_PACKAGE, help=argparse.SUPPRESS)
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the table")
    args = parser.parse_args(argv)
    try:
        outcomes = run(args.package, args.groups, echo=None if args.quiet else print)
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(table(outcomes))
    return 1 if any(o.wrong is not None for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
