"""`ckm bench ...`: benchmarks that print their figures."""

from __future__ import annotations

import argparse
from typing import Any

from ckm.settings import Settings


def register(sub: Any) -> None:
    bench = sub.add_parser("bench", help="run a benchmark and print its figures")
    bench_sub = bench.add_subparsers(dest="bench_command", metavar="BENCH", required=True)
    calls = bench_sub.add_parser("calls", help="call set-up: controller vs pure dialplan")
    calls.add_argument("-n", "--calls", type=int, default=300)
    calls.add_argument("-c", "--concurrency", type=int, default=50)
    calls.set_defaults(handler=_calls)


def _calls(args: argparse.Namespace, settings: Settings) -> int:
    from bench import calls

    return calls.main(settings, args.calls, args.concurrency)
