"""When the center is near what this machine can carry: shed new work before Asterisk wedges.

Rules:
- `OverloadGuard` is pure: `assess(reading)` takes the controller's own measurements (calls in
  progress, ARI's health and round trip, the event loop's lag, the machine's load per core)
  and returns the level: `normal`, `strained` (speech recognition is skipped, keys still
  work) or `overloaded` (new callers hear the short "all lines are busy" script, which offers
  a callback where it can, and are not taken into the IVR and the queues);
- levels rise at once and fall only after `calm_s` of readings below the lower marks, so a
  surge does not flap the center between the two scripts; a level raised by ARI's health or
  the loop's lag (not by the count of calls) falls after `quick_calm_s`: the probe's verdict
  has its own hysteresis (two answers in a row, pbx.ari_health.AriHealth.guard_state), and a
  stall that has passed must not shed the callers the machine now serves. Measured: Asterisk
  frozen 6 s in the middle of `ckm bench acd -n 400 --sides ckm`: the guard saw the third
  missed probe as Asterisk woke up and, with 20 s of calm after it, told 211 of 400 callers
  "busy" (189 reached); with 2 s, 69 (330 reached, 1 lost);
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
    quick_calm_s: float = 2.0  # when the level was raised by ARI or the loop, not by calls
    level: str = "normal"
    reason: str = ""
    cause: str = ""  # calls | ari | loop: what raised the level
    _calm_since: datetime | None = None

    def assess(self, r: Reading) -> str:
        wanted, why, cause = self._wanted(r)
        if LEVELS.index(wanted) >= LEVELS.index(self.level):
            self.level, self.reason, self.cause, self._calm_since = wanted, why, cause, None
            return self.level
        # Lower than now: only after a calm spell.
        if self._calm_since is None:
            self._calm_since = r.at
        calm = self.calm_s if self.cause == "calls" else self.quick_calm_s
        if r.at - self._calm_since >= timedelta(seconds=calm):
            self.level, self.reason, self.cause, self._calm_since = wanted, why, cause, None
        return self.level

    def _wanted(self, r: Reading) -> tuple[str, str, str]:
        if r.calls >= self.max_calls:
            return "overloaded", f"{r.calls} calls in progress (at most {self.max_calls})", "calls"
        if r.ari_state == "unresponsive":
            return "overloaded", "Asterisk does not answer ARI", "ari"
        if r.ari_rtt_s is not None and r.ari_rtt_s > 1.0:
            return "overloaded", f"ARI answers in {r.ari_rtt_s * 1000:.0f} ms", "ari"
        if r.loop_lag_s > 1.0:
            return "overloaded", f"the controller's event loop lags {r.loop_lag_s:.1f} s", "loop"
        if r.calls >= self.strain_share * self.max_calls:
            return "strained", f"{r.calls} calls in progress (of {self.max_calls})", "calls"
        if r.ari_state == "slow":
            return "strained", "ARI answers slowly", "ari"
        if r.loop_lag_s > 0.5:
            return "strained", f"the controller's event loop lags {r.loop_lag_s:.1f} s", "loop"
        # The machine's load alone does not strain the center (a busy neighbour is not our
        # callers' problem); it is reported with the reading for the operator.
        return "normal", "", ""
