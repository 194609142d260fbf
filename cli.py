"""OneGrid command line: ``python cli.py COMMAND --help``.

Each command lives in its own module under ``commands/`` and defines ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; this file only routes. Errors a user can fix
(:class:`spatial.errors.OneGridError`) become one ``error: ...`` line and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sqlite3
import sys
from collections.abc import Sequence
from types import ModuleType

import commands
from spatial.errors import OneGridError


def _command_modules() -> list[ModuleType]:
    mods = []
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        mods.append(importlib.import_module(f"commands.{info.name}"))
    return mods


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python cli.py",
        description="OneGrid (一张网): grid-based urban governance on the command line.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args))
    except OneGridError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except sqlite3.DatabaseError as exc:
        # A store damaged past the pages read when it was opened shows only when a command reads
        # there; the store's own translation says so (a wrong query stays a bug, with its traceback).
        import settings
        from layers.store import user_error

        mapped = user_error(settings.store_path(getattr(args, "store", None)), exc)
        if mapped is None:
            raise
        print(f"error: {mapped}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the store is left as it was before the interrupted write", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
