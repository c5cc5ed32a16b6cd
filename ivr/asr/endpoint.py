"""Where speech starts and ends in telephone audio (energy-based, 20 ms frames).

Used to cut a Whisper utterance at the end of speech (instead of waiting for a fixed window),
to trim silence before decoding, and to signal `SpeechStarted` for barge-in. The noise floor
adapts to the line; a frame is speech when it is well above the floor and above -45 dBFS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_MS = 20


def pcm_to_float(pcm: bytes) -> np.ndarray:
    ints = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")
    out: np.ndarray = ints.astype(np.float32) * np.float32(1 / 32768)
    return out


def frame_levels(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """RMS level per 20 ms frame, in dBFS."""
    n = sample_rate * FRAME_MS // 1000
    count = len(samples) // n
    if count == 0:
        return np.zeros(0, dtype=np.float32)
    frames = samples[: count * n].reshape(count, n)
    rms = np.sqrt(np.mean(frames * frames, axis=1) + 1e-12)
    levels: np.ndarray = (20 * np.log10(rms)).astype(np.float32)
    return levels


@dataclass
class Endpointer:
    sample_rate: int
    trailing_silence_ms: int = 450
    min_speech_ms: int = 100
    floor_db: float = -60.0
    _speech_frames: int = 0
    _silence_frames: int = 0
    _started: bool = False
    _ended: bool = False
    _pending: bytes = b""

    @property
    def started(self) -> bool:
        return self._started

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def silence_frames(self) -> int:
        """Quiet frames since the last speech frame."""
        return self._silence_frames

    def reset(self) -> None:
        self._speech_frames = self._silence_frames = 0
        self._started = self._ended = False
        self._pending = b""

    def feed(self, pcm: bytes) -> None:
        data = self._pending + pcm
        frame_bytes = self.sample_rate * FRAME_MS // 1000 * 2
        usable = len(data) - len(data) % frame_bytes
        self._pending = data[usable:]
        for level in frame_levels(pcm_to_float(data[:usable]), self.sample_rate):
            threshold = max(self.floor_db + 15.0, -45.0)
            if level > threshold:
                self._speech_frames += 1
                self._silence_frames = 0
                if self._speech_frames * FRAME_MS >= self.min_speech_ms:
                    self._started = True
            else:
                if not self._started:
                    self._speech_frames = 0
                    # follow the line noise down quickly, up slowly
                    self.floor_db = min(level, 0.95 * self.floor_db + 0.05 * level)
                self._silence_frames += 1
                if self._started and self._silence_frames * FRAME_MS >= self.trailing_silence_ms:
                    self._ended = True


def trim(samples: np.ndarray, sample_rate: int, margin_ms: int = 150) -> np.ndarray:
    """Cut leading and trailing silence, keeping a margin."""
    levels = frame_levels(samples, sample_rate)
    if len(levels) == 0:
        return samples
    floor = float(np.percentile(levels, 10))
    loud = np.nonzero(levels > max(floor + 15.0, -45.0))[0]
    if len(loud) == 0:
        return samples[:0]
    n = sample_rate * FRAME_MS // 1000
    margin = sample_rate * margin_ms // 1000
    start = max(0, int(loud[0]) * n - margin)
    end = min(len(samples), (int(loud[-1]) + 1) * n + margin)
    return samples[start:end]


def resample_to_16k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    if sample_rate == 16000:
        return samples.astype(np.float32)
    positions = np.arange(0, len(samples), sample_rate / 16000.0)
    out: np.ndarray = np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)
    return out
