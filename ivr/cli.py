"""`ckm ivr validate|simulate|render` and `ckm models install|status`."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from ground.settings import Settings
from ivr import simulate, validator
from ivr.lookup import StaticLookup
from ivr.problems import ScriptInvalid


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ivr = sub.add_parser("ivr", help="IVR scripts: validate, simulate, render prompts")
    ivr_sub = ivr.add_subparsers(dest="ivr_command", metavar="ACTION", required=True)

    v = ivr_sub.add_parser("validate", help="check a script; every problem as file:line:col")
    v.add_argument("file")
    v.add_argument("--queues", default=",".join(validator.DEFAULT_QUEUES),
                   help="comma-separated queues that exist (default: the CRM's seeded queues)")
    v.set_defaults(handler=cmd_validate)

    s = ivr_sub.add_parser("simulate", help="run a script with given inputs, print the dialogue")
    s.add_argument("file")
    s.add_argument("--input", action="append", default=[], metavar="INPUT",
                   help='keys ("1", "123#"), "say:TEXT[@CONF]", "silence" or "hangup"; repeat')
    s.add_argument("--caller", default="+48600100200")
    s.add_argument("--lang", default=None, help="language the call starts in")
    s.add_argument("--at", default=None, help="ISO time of the call (default: now, Warsaw)")
    s.add_argument("--open-cases", type=int, default=None,
                   help="the CRM knows the caller, with this many open reports")
    s.add_argument("--case", action="append", default=[], metavar="DIGITS=STATUS",
                   help="a report the CRM knows, e.g. 123=in_progress; repeat")
    s.add_argument("--crm-down", action="store_true", help="every CRM lookup fails")
    s.set_defaults(handler=cmd_simulate)

    r = ivr_sub.add_parser("render", help="render every prompt of a script with TTS, ahead of time")
    r.add_argument("file")
    r.add_argument("--rate", type=int, default=None, help="speech rate (words per minute)")
    r.set_defaults(handler=cmd_render)

    m = sub.add_parser("models", help="speech models: install, status")
    m_sub = m.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    mi = m_sub.add_parser("install", help="fetch the Vosk model of a language (needs internet)")
    mi.add_argument("language", help="e.g. pl")
    mi.set_defaults(handler=cmd_models_install)
    ms = m_sub.add_parser("status", help="which engine serves each language")
    ms.set_defaults(handler=cmd_models_status)


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    queues = [q.strip() for q in str(args.queues).split(",") if q.strip()]
    report = validator.check_file(args.file, queues)
    if report.problems:
        for line in report.lines():
            print(line)
        print(f"{args.file}: {len(report.problems)} problem(s)", file=sys.stderr)
        return 1
    print(report.summary())
    return 0


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    try:
        script = validator.load_valid(args.file)
    except ScriptInvalid as exc:
        print(exc, file=sys.stderr)
        return 1
    zone = ZoneInfo(script.timezone)
    at = (datetime.fromisoformat(args.at) if args.at else datetime.now(zone))
    if at.tzinfo is None:
        at = at.replace(tzinfo=zone)
    cases: dict[str, str] = {}
    for item in args.case:
        digits, _, status = str(item).partition("=")
        cases[digits] = status or "in_progress"
    callers = {} if args.open_cases is None else {args.caller: int(args.open_cases)}
    port = StaticLookup(callers=callers, cases=cases, failing=bool(args.crm_down))
    try:
        simulate.run(script, args.input, args.caller, at, port, args.lang, echo=print)
    except ValueError as exc:
        print(f"ckm ivr simulate: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_render(args: argparse.Namespace, settings: Settings) -> int:
    from ivr import tts

    try:
        script = validator.load_valid(args.file)
    except ScriptInvalid as exc:
        print(exc, file=sys.stderr)
        return 1
    renderer = tts.PromptRenderer(tts.prompt_dir(settings), rate=args.rate)
    catalog = tts.render_script(script, renderer, progress=tts.progress_bar(sys.stderr))
    print(f"{args.file}: {len(catalog)} prompts ready in {renderer.cache_dir} "
          f"({catalog.rendered} rendered now, {catalog.cached} from cache)")
    return 0


def cmd_models_install(args: argparse.Namespace, settings: Settings) -> int:
    from ivr.asr import models as speech_models

    try:
        path = speech_models.install_vosk(settings, args.language)
    except speech_models.ModelInstallError as exc:
        print(f"ckm models install: {exc}", file=sys.stderr)
        return 1
    print(f"vosk model for {args.language} installed in {path}")
    return 0


def cmd_models_status(args: argparse.Namespace, settings: Settings) -> int:
    from ivr.asr import models as speech_models

    for line in speech_models.status_lines(settings):
        print(line)
    return 0
