"""`python -m bench.center`: the center as `ckm run --no-asterisk --no-web` runs it, plus the
benchmarks' own IVR flows (bench/scripts), which a production center never serves. The call
benchmark starts it as its controller process and reads the CKM_STATS line it prints on exit.

With `CKM_BENCH_PROFILE=FILE` in the environment it runs under cProfile and writes the
statistics of its event loop's thread to FILE on exit (`python -m pstats FILE`): how the
answer-latency and CPU figures of `ckm bench calls` were taken apart.
"""

from __future__ import annotations

import logging
import os

from bench import flows
from ckm.runner import run_center, serve
from ground.settings import load


def main() -> None:
    settings = load()
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    run = serve(settings, web_enabled=False, extra_scripts=flows.SCRIPT_DIRS)
    profile_to = os.environ.get("CKM_BENCH_PROFILE", "")
    if not profile_to:
        run_center(run)
        return
    import cProfile
    import time

    profiler = cProfile.Profile(time.thread_time)  # CPU of the loop's thread, not wall time
    try:
        profiler.runcall(run_center, run)
    finally:
        profiler.dump_stats(profile_to)


if __name__ == "__main__":
    main()
