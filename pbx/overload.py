"""When the center is near what this machine can carry: shed new work before Asterisk wedges.

Rules:
- `OverloadGuard` is pure: `assess(reading)` takes the controller's own measurements (calls in
  progress, ARI's health and round trip, the event loop's lag, the machine's load per core)
  and returns the level: `normal`, `strained` (speech recognition is skipped, keys still
  work) or `overloaded` (new callers hear the short "all lines are busy" script, which offers
  a callback where it can, and are not taken into the IVR and the queues);
- levels rise at once and fall only after `calm_s` of readings below the lower marks, so a
  surge does not flap the center between the two scripts;
- the reason is kept in words for /healthz and the wallboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

LEVELS = ("normal", "strained", "overloaded")


@dataclass(frozen=True)
class Reading:
    at: datetime
    calls: int  # calls the controller is handling (IVR and queued)
    ari_state: str = "ok"  # pbx.ari_health verdict
    ari_rtt_s: float | None = None  # typical: the median of the last few round trips
    loop_lag_s: float = 0.0  # the event loop's typical lag lately (the median of a few)
    load_per_core: float = 0.0  # 1-minute load average / cores


@dataclass
class OverloadGuard:
    max_calls: int = 120
    strain_share: float = 0.8  # of max_calls
    calm_s: float = 20.0
    level: str = "normal"
    reason: str = ""
    _calm_since: datetime | None = None

    def assess(self, r: Reading) -> str:
        wanted, why = self._wanted(r)
        if LEVELS.index(wanted) >= LEVELS.index(self.level):
            self.level, self.reason, self._calm_since = wanted, why, None
            return self.level
        # Lower than now: only after a calm spell.
        if self._calm_since is None:
            self._calm_since = r.at
        if r.at - self._calm_since >= timedelta(seconds=self.calm_s):
            self.level, self.reason, self._calm_since = wanted, why, None
        return self.level

    def _wanted(self, r: Reading) -> tuple[str, str]:
        if r.calls >= self.max_calls:
            return "overloaded", f"{r.calls} calls in progress (at most {self.max_calls})"
        if r.ari_state == "unresponsive":
            return "overloaded", "Asterisk does not answer ARI"
        if r.ari_rtt_s is not None and r.ari_rtt_s > 1.0:
            return "overloaded", f"ARI answers in {r.ari_rtt_s * 1000:.0f} ms"
        if r.loop_lag_s > 1.0:
            return "overloaded", f"the controller's event loop lags {r.loop_lag_s:.1f} s"
        if r.calls >= self.strain_share * self.max_calls:
            return "strained", f"{r.calls} calls in progress (of {self.max_calls})"
        if r.ari_state == "slow":
            return "strained", "ARI answers slowly"
        if r.loop_lag_s > 0.5:
            return "strained", f"the controller's event loop lags {r.loop_lag_s:.1f} s"
        # The machine's load alone does not strain the center (a busy neighbour is not our
        # callers' problem); it is reported with the reading for the operator.
        return "normal", ""
