"""`python -m bench.center`: the center as `ckm run --no-asterisk --no-web` runs it, plus the
benchmarks' own IVR flows (bench/scripts), which a production center never serves. The call
benchmark starts it as its controller process and reads the CKM_STATS line it prints on exit."""

from __future__ import annotations

import asyncio
import logging

from bench import flows
from ckm.runner import serve
from ground.settings import load


def main() -> None:
    settings = load()
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(serve(settings, web_enabled=False, extra_scripts=flows.SCRIPT_DIRS))


if __name__ == "__main__":
    main()
