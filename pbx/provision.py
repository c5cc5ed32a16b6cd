"""Provision the Asterisk the center runs on: a configured system Asterisk, or the sandbox.

The sandbox is a Debian sid chroot (Debian 12 has no asterisk package) built once by debootstrap
into a git-ignored cache folder. Rules learnt the hard way (see FACTS):
- mount a fresh proc inside the chroot and never bind-mount the host's /dev: debootstrap made
  the device nodes Asterisk needs, and a later `rm -rf` through a bind would delete the host's;
- start Asterisk without -U/-G, or it drops capabilities and cannot read its own config;
- unmount before deleting, and delete with --one-file-system.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ground.settings import Settings
from pbx import asterisk_config

log = logging.getLogger(__name__)

PACKAGES = ("asterisk", "asterisk-modules", "asterisk-core-sounds-en-wav")
BUILT_MARKER = ".ckm-built"
MIN_MAJOR = 20


def supported(version: str) -> bool:
    """Is an Asterisk version string (e.g. "22.10.1+dfsg...") new enough for ckm?"""
    match = re.match(r"\D*(\d+)", version)
    return match is not None and int(match.group(1)) >= MIN_MAJOR


class ProvisionError(RuntimeError):
    """Asterisk could not be provisioned; the message says why and what to do."""


@dataclass(frozen=True)
class Status:
    mode: str  # sandbox | system
    running: bool
    version: str
    detail: str


def _run(cmd: list[str], timeout: float = 30, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise ProvisionError(f"{cmd[0]} is not installed ({exc})") from None
    except subprocess.TimeoutExpired:
        raise ProvisionError(f"{' '.join(cmd)} did not finish within {timeout:.0f} s") from None
    if check and proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-8:]
        raise ProvisionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n  " + "\n  ".join(tail))
    return proc


def ari_answers(settings: Settings, timeout: float = 2.0) -> str | None:
    """Asterisk's version if ARI answers with our credentials, else None."""
    request = urllib.request.Request(f"{settings.ari_base}/asterisk/info")
    token = b64encode(f"{settings.ari_user}:{settings.ari_password}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            body = resp.read().decode()
    except (urllib.error.URLError, OSError, ValueError):
        return None
    match = re.search(r'"version"\s*:\s*"([^"]+)"', body)
    return match.group(1) if match else "unknown"


class Sandbox:
    """The chroot Asterisk. Every method is idempotent."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.sandbox_dir.resolve()

    # --- paths ---------------------------------------------------------------------------
    @property
    def built(self) -> bool:
        return (self.root / BUILT_MARKER).is_file()

    @property
    def pid_file(self) -> Path:
        return self.root / "run/asterisk/asterisk.pid"

    def module_dir(self) -> str:
        found = sorted(self.root.glob("usr/lib/*/asterisk/modules"))
        if not found:
            raise ProvisionError(f"no Asterisk modules under {self.root}/usr/lib — rebuild the sandbox")
        return "/" + str(found[0].relative_to(self.root))

    def mounts(self) -> list[str]:
        points = []
        with open("/proc/mounts") as fh:
            for line in fh:
                point = line.split()[1].replace("\\040", " ")
                if point == str(self.root) or point.startswith(str(self.root) + "/"):
                    points.append(point)
        return points

    # --- life cycle ----------------------------------------------------------------------
    def require_root(self) -> None:
        if os.geteuid() != 0:
            raise ProvisionError(
                "the Asterisk sandbox needs root (debootstrap, chroot, mount). Run as root, or "
                "point ckm at an existing Asterisk: CKM_ASTERISK_MODE=system with CKM_ARI_URL, "
                "CKM_ARI_USER, CKM_ARI_PASSWORD."
            )

    def mirror(self) -> str:
        if self.settings.debian_mirror:
            return self.settings.debian_mirror
        sources = [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]
        for src in sources:
            if not src.is_file():
                continue
            for line in src.read_text(errors="replace").splitlines():
                if line.lstrip().startswith("#"):
                    continue
                url: str
                for url in re.findall(r"(https?://[^\s\]]+/debian)/?(?:\s|$)", line):
                    # Security and snapshot archives do not carry sid.
                    if "security" not in url and "snapshot" not in url:
                        return url
        return "http://deb.debian.org/debian"

    def build(self, log: Path) -> None:
        if self.built:
            return
        self.require_root()
        if shutil.which("debootstrap") is None:
            raise ProvisionError(
                "debootstrap is missing: `apt-get install debootstrap` (make run/test do this)"
            )
        if self.root.exists():
            # A build that was interrupted: start again from nothing, safely.
            self.unmount_all()
            _run(["rm", "-rf", "--one-file-system", str(self.root)], timeout=300)
        self.root.parent.mkdir(parents=True, exist_ok=True)
        debs = self.settings.cache_dir / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        mirror = self.mirror()
        cmd = [
            "debootstrap", "--variant=minbase", f"--cache-dir={debs.resolve()}",
            f"--include={','.join(PACKAGES)}", "sid", str(self.root), mirror,
        ]
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as out:
            proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
        if proc.returncode != 0:
            tail = log.read_text(errors="replace").strip().splitlines()[-6:]
            raise ProvisionError(
                f"debootstrap from {mirror} failed ({proc.returncode}); is the mirror reachable? "
                f"Set CKM_DEBIAN_MIRROR to another. Last lines of {log}:\n  " + "\n  ".join(tail)
            )
        (self.root / BUILT_MARKER).write_text(f"built {time.strftime('%F %T')} from {mirror}\n")

    def mount_proc(self) -> None:
        proc_dir = self.root / "proc"
        if str(proc_dir) not in self.mounts():
            proc_dir.mkdir(exist_ok=True)
            _run(["mount", "-t", "proc", "proc", str(proc_dir)])

    def unmount_all(self) -> None:
        for point in sorted(self.mounts(), key=len, reverse=True):
            proc = _run(["umount", point], check=False)
            if proc.returncode != 0:
                _run(["umount", "-l", point], check=False)

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        try:
            root = os.readlink(f"/proc/{pid}/root")
        except OSError:
            return None
        return pid if Path(root).resolve() == self.root else None

    def cli(self, command: str, timeout: float = 30) -> str:
        proc = _run(["chroot", str(self.root), "asterisk", "-rx", command], timeout=timeout,
                    check=False)
        if proc.returncode != 0:
            raise ProvisionError(f"asterisk -rx {command!r}: {(proc.stderr or proc.stdout).strip()}")
        return proc.stdout

    def install_config(self) -> None:
        asterisk_config.install_tls_files(self.settings, self.root / "etc/asterisk")
        asterisk_config.render(self.settings, self.root / "etc/asterisk", self.module_dir())
        # The stock users.conf only produces a deprecation warning at every start.
        (self.root / "etc/asterisk/users.conf").unlink(missing_ok=True)
        sounds = self.settings.sounds_dir
        sounds.mkdir(parents=True, exist_ok=True)
        _render_service_down_prompt(sounds)
        _render_hold_music(self.root / "var/lib/asterisk/moh-ckm")

    def up(self, log_dir: Path) -> Status:
        self.require_root()
        self.build(log_dir / "debootstrap.log")
        self.install_config()
        self.mount_proc()
        (self.root / "run/asterisk").mkdir(parents=True, exist_ok=True)
        # ARI recordings (call recordings, supervisors' checks) land here; the Debian package
        # does not create it, and without it every recording fails with ENOENT.
        (self.root / "var/spool/asterisk/recording").mkdir(parents=True, exist_ok=True)
        if self.pid() is None:
            self._check_ports_free()
            _run(["chroot", str(self.root), "asterisk"], timeout=30)
            self._wait_booted()
        else:
            self.cli("core reload")
            self._wait_booted()
            self._wait_ari()
        return self.status()

    def _check_ports_free(self) -> None:
        import socket

        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.settings.asterisk_http_host, self.settings.asterisk_http_port))
            except OSError:
                raise ProvisionError(
                    f"port {self.settings.asterisk_http_port} on {self.settings.asterisk_http_host} "
                    "is taken by another program; set CKM_ASTERISK_HTTP_PORT"
                ) from None

    def _wait_booted(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            proc = _run(["chroot", str(self.root), "asterisk", "-rx", "core waitfullybooted"],
                        timeout=timeout, check=False)
            if proc.returncode == 0 and "fully booted" in proc.stdout.lower():
                self._wait_ari()
                return
            last = (proc.stderr or proc.stdout).strip()
            time.sleep(0.2)
        raise ProvisionError(f"Asterisk did not finish booting in {timeout:.0f} s: {last}\n"
                             f"see `ckm asterisk logs`")

    def _wait_ari(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ari_answers(self.settings, timeout=1) is not None:
                return
            time.sleep(0.1)
        raise ProvisionError(f"Asterisk is up but ARI at {self.settings.ari_base} does not answer")

    def down(self, say: Callable[[str], None] = log.warning) -> str:
        """Stop the sandbox, escalating when Asterisk does not listen; returns how it stopped
        ("" when it was not running)."""
        pid = self.pid()
        how = ""
        if pid is not None:
            how = stop_escalating(
                pid, lambda: _run(["chroot", str(self.root), "asterisk", "-rx", "core stop now"],
                                  timeout=10, check=False), say)
        self.unmount_all()
        return how

    def status(self) -> Status:
        if not self.built:
            return Status("sandbox", False, "", f"not built (would be built in {self.root})")
        pid = self.pid()
        if pid is None:
            return Status("sandbox", False, "", f"stopped; chroot {self.root}")
        version = self.cli("core show version").strip()
        calls = self.cli("core show channels count").strip().replace("\n", "; ")
        return Status("sandbox", True, version, f"pid {pid}; {calls}")

    def logs(self, lines: int = 100) -> str:
        path = self.root / "var/log/asterisk/messages.log"
        if not path.is_file():
            return f"(no log yet at {path})"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def stop_escalating(pid: int, cli_stop: Callable[[], object], say: Callable[[str], None], *,
                    cli_wait_s: float = 10.0, term_wait_s: float = 5.0) -> str:
    """Stop process `pid`: the CLI's stop first, then SIGTERM, then SIGKILL, saying each step
    (a wedged Asterisk ignores its CLI and can sit on SIGTERM). Returns "cli", "sigterm" or
    "sigkill"; raises ProvisionError if even SIGKILL does not end it."""
    try:
        cli_stop()
    except ProvisionError as exc:
        say(f"Asterisk's CLI did not answer ({exc})")
    if _wait_gone(pid, cli_wait_s):
        return "cli"
    say(f"Asterisk (pid {pid}) is still running {cli_wait_s:.0f} s after 'core stop now'; "
        "sending SIGTERM")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if _wait_gone(pid, term_wait_s):
        return "sigterm"
    say(f"Asterisk (pid {pid}) ignored SIGTERM for {term_wait_s:.0f} s; sending SIGKILL "
        "(calls still up are cut)")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if not _wait_gone(pid, 10):
        raise ProvisionError(f"Asterisk (pid {pid}) survived SIGKILL; see `ckm asterisk logs`")
    return "sigkill"


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (our child, not yet reaped) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _render_service_down_prompt(sounds: Path) -> None:
    """The Polish "please call again" heard when the controller is not connected.

    Rendered with espeak-ng at provisioning so Asterisk can play it without the controller.
    """
    target = sounds / "service-down.wav"
    if target.exists() or shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        return
    raw = sounds / "service-down.raw.wav"
    text = ("Przepraszamy, centrum kontaktu 19115 ma chwilową przerwę techniczną. "
            "Prosimy zadzwonić ponownie za kilka minut. W nagłych wypadkach dzwoń pod 112.")
    _run(["espeak-ng", "-v", "pl", "-w", str(raw), text])
    _run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
          str(target)])
    raw.unlink()


def _render_hold_music(folder: Path) -> None:
    """Hold music of our own making (sox synth), so no third-party recording ships with ckm."""
    target = folder / "ckm-hold.wav"
    if target.exists() or shutil.which("sox") is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    # A slow arpeggio in C major, soft and repeating: calm enough to wait with for minutes.
    notes = ["C4", "E4", "G4", "C5", "G4", "E4", "F4", "A4", "C5", "A4", "G4", "B3"]
    parts = []
    for i, note in enumerate(notes):
        note_file = folder / f".note{i}.wav"
        _run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(note_file), "synth", "0.6",
              "pluck", note, "fade", "0.01", "0.6", "0.3", "vol", "0.25"])
        parts.append(str(note_file))
    _run(["sox", *parts, str(target), "repeat", "4"])
    for name in parts:
        Path(name).unlink()


class SystemAsterisk:
    """An Asterisk the operator runs; ckm only checks it and talks ARI to it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def up(self, log_dir: Path) -> Status:
        version = ari_answers(self.settings)
        if version is not None and not supported(version):
            raise ProvisionError(f"Asterisk {version} at {self.settings.ari_base} is too old: "
                                 f"ckm needs {MIN_MAJOR} or newer (ARI externalMedia, "
                                 "channelvars, WebRTC)")
        if version is None:
            raise ProvisionError(
                f"no ARI at {self.settings.ari_base} with user {self.settings.ari_user!r}: check "
                "http.conf (enabled, bindport), ari.conf (the user and password) and that "
                "res_ari is loaded; ckm's templates in asterisk-config/ show a working setup"
            )
        return self.status()

    def down(self) -> None:
        """ckm does not stop an Asterisk it did not start."""

    def status(self) -> Status:
        version = ari_answers(self.settings)
        return Status("system", version is not None, version or "",
                      f"ARI {self.settings.ari_base}")

    def cli(self, command: str, timeout: float = 30) -> str:
        return _run(["asterisk", "-rx", command], timeout=timeout).stdout

    def logs(self, lines: int = 100) -> str:
        path = Path("/var/log/asterisk/messages.log")
        if not path.is_file():
            return f"(no log at {path})"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def select(settings: Settings) -> Sandbox | SystemAsterisk:
    """The Asterisk this install uses: explicit mode, or a configured system one when it answers."""
    if settings.asterisk_mode == "system":
        return SystemAsterisk(settings)
    if settings.asterisk_mode == "sandbox":
        return Sandbox(settings)
    if shutil.which("asterisk") and ari_answers(settings) is not None and not Sandbox(settings).pid():
        return SystemAsterisk(settings)
    return Sandbox(settings)
