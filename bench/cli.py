"""`ckm bench ...`: benchmarks that print their figures."""

from __future__ import annotations

import argparse
from typing import Any

from ground.settings import Settings


def register(sub: Any) -> None:
    bench = sub.add_parser("bench", help="run a benchmark and print its figures")
    bench_sub = bench.add_subparsers(dest="bench_command", metavar="BENCH", required=True)
    calls = bench_sub.add_parser("calls", help="call set-up: controller vs pure dialplan")
    calls.add_argument("-n", "--calls", type=int, default=300)
    calls.add_argument("-c", "--concurrency", type=int, default=50)
    calls.add_argument("-r", "--rate", type=float, default=0.0,
                       help="start this many calls per second on both sides (an open loop, "
                            "the same load for both); default: as many as the concurrency "
                            "allows")
    calls.set_defaults(handler=_calls)
    acd = bench_sub.add_parser("acd", help="the ACD vs app_queue: 60 agents, steady arrivals")
    acd.add_argument("-n", "--callers", type=int, default=200)
    acd.add_argument("-r", "--rate", type=float, default=8.0, help="callers per second")
    acd.add_argument("--sides", choices=("both", "native", "ckm"), default="both",
                     help="run app_queue, ckm's ACD or both (the ratios need both)")
    acd.set_defaults(handler=_acd)
    surge = bench_sub.add_parser(
        "surge", help="the ACD vs app_queue at twice what the machine serves: served, busy, lost")
    surge.add_argument("-n", "--callers", type=int, default=400)
    surge.add_argument("-r", "--rate", type=float, default=16.0, help="callers per second")
    surge.add_argument("--sides", choices=("both", "native", "ckm"), default="both")
    surge.set_defaults(handler=_surge)
    routing = bench_sub.add_parser("acd-routing",
                                   help="routing decisions/s and hub fan-out latency")
    routing.set_defaults(handler=_acd_routing)
    notify = bench_sub.add_parser("notifications",
                                  help="resident e-mails/s through the outbox to a local SMTP server")
    notify.add_argument("-n", "--notifications", type=int, default=1000)
    notify.add_argument("--latency", type=int, default=200)
    notify.add_argument("--database-url", default="")
    notify.set_defaults(handler=_notifications)
    center = bench_sub.add_parser("acd-center", help=argparse.SUPPRESS)
    center.set_defaults(handler=_acd_center)


def _calls(args: argparse.Namespace, settings: Settings) -> int:
    from bench import calls

    return calls.main(settings, args.calls, args.concurrency, args.rate)


def _acd(args: argparse.Namespace, settings: Settings) -> int:
    from bench import acd_calls

    return acd_calls.main(settings, args.callers, args.rate, sides=args.sides)


def _surge(args: argparse.Namespace, settings: Settings) -> int:
    from bench import acd_calls

    return acd_calls.main(settings, args.callers, args.rate, surge=True, sides=args.sides)


def _acd_center(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from bench import acd_calls

    asyncio.run(acd_calls.serve_center(settings))
    return 0


def _acd_routing(args: argparse.Namespace, settings: Settings) -> int:
    from bench import acd_bench

    return acd_bench.main([])


def _notifications(args: argparse.Namespace, settings: Settings) -> int:
    from bench import notifications

    argv = ["-n", str(args.notifications), "--latency", str(args.latency)]
    if args.database_url:
        argv += ["--database-url", args.database_url]
    return notifications.main(argv)
