"""The `ckm` command. Each package contributes its own sub-commands through a `cli` module
with a `register(subparsers)` function; this module only wires them together."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Callable

from ground import settings as settings_mod

# Packages that add sub-commands. A package listed here must have a `cli` module.
COMMAND_MODULES = (
    "pbx.cli",
    "crm_core.cli",
    "crm_core.notifications_cli",
    "crm_core.forwarding_cli",
    "crm_core.reports_cli",
    "ivr.cli",
    "cti.cli",
    "portal.cli",
    "ckm.runner",
    "ckm.tls",
    "bench.cli",
)

Handler = Callable[[argparse.Namespace, settings_mod.Settings], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ckm", description="Warsaw 19115 contact center")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    settings_cmd = sub.add_parser("settings", help="print every setting (secrets masked)")
    settings_cmd.set_defaults(handler=_print_settings)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # Only a missing optional module is tolerated, never a broken import inside one.
            if exc.name is None or not name.startswith(exc.name):
                raise
            continue
        module.register(sub)
    return parser


def _print_settings(args: argparse.Namespace, settings: settings_mod.Settings) -> int:
    print(json.dumps(settings.public(), indent=2, ensure_ascii=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        settings = settings_mod.load()
    except settings_mod.SettingsError as exc:
        print(f"ckm: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        return handler(args, settings)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
