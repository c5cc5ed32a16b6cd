"""A consultant's desk phone for live tests: Debian's `baresip`, a real SIP user agent.

It registers over UDP (or TLS, checking the server against a CA) to Asterisk's PJSIP transport
with the extension's derived password,
answers every call by itself (`answermode=auto`), sends a WAV file as its microphone and keeps
what it hears (the `sndfile` module writes the decoded audio of each call to a WAV file). It
runs as its own process with its own config folder; `stop()` ends it (TERM, then KILL).
"""

from __future__ import annotations

import array
import math
import random
import shutil
import socket
import subprocess
import wave
from pathlib import Path

from ground.phones import registrar, sip_password
from ground.settings import Settings
from pbx import asterisk_config, provision
from pbx.ari_client import AriClient, AriError
from tests.polling import wait_until

MODULES = "/usr/lib/baresip/modules"


# Ports for the phone's SIP and RTP come from below the kernel's ephemeral range (32768+ here),
# and above Asterisk's RTP range (10000-10999): a port the kernel handed out as free for UDP
# could be the local end of someone's TCP connection, and baresip binds its SIP port for UDP
# and TCP and the next one for TLS (a clean-clone CI run failed with "tcp: sock_bind: Address
# already in use" on such a port).
OWN_PORTS = range(20000, 32000, 16)


def _bindable(port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port_block(size: int = 16) -> int:
    """The first of `size` consecutive ports free for UDP and TCP on 127.0.0.1, at random."""
    for start in random.sample(OWN_PORTS, len(OWN_PORTS)):
        if all(_bindable(port, kind) for port in range(start, start + size)
               for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM)):
            return start
    raise AssertionError("no block of free ports for the desk phone")


def tone(path: Path, hz: int, seconds: float, rate: int = 8000) -> Path:
    """A sine tone at half scale, 16-bit mono."""
    n = int(seconds * rate)
    samples = array.array("h", (int(16000 * math.sin(2 * math.pi * hz * i / rate)) for i in range(n)))
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    return path


def read_wav(path: Path) -> tuple[array.array[int], int]:
    with wave.open(str(path)) as wav:
        assert wav.getsampwidth() == 2 and wav.getnchannels() == 1, f"{path}: not 16-bit mono"
        return array.array("h", wav.readframes(wav.getnframes())), wav.getframerate()


def tone_share(samples: array.array[int], rate: int, hz: float) -> float:
    """Share (0..1) of the signal's power at `hz` (Goertzel over 20 ms blocks, summed)."""
    block = rate // 50
    coeff = 2 * math.cos(2 * math.pi * hz / rate)
    at_tone = total = 0.0
    for start in range(0, len(samples) - block + 1, block):
        s1 = s2 = 0.0
        energy = 0.0
        for x in samples[start:start + block]:
            s1, s2 = x + coeff * s1 - s2, s1
            energy += float(x) * x
        # |X(k)|^2 of an N-point block holds N/2 x the power of a pure tone at the bin.
        at_tone += (s1 * s1 + s2 * s2 - coeff * s1 * s2) * 2 / block
        total += energy
    return at_tone / total if total else 0.0


class DeskPhone:
    def __init__(self, settings: Settings, extension: str, folder: Path, speaks: Path, *,
                 tls_ca: Path | None = None) -> None:
        self.settings = settings
        self.extension = extension
        self.folder = folder
        self.speaks = speaks
        self.tls_ca = tls_ca  # register over TLS (sip_tls_port), trusting this CA
        self.heard_dir = folder / "heard"
        self.log = folder / "baresip.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def write_config(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.heard_dir.mkdir(exist_ok=True)
        ports = free_port_block()  # SIP (UDP, TCP), TLS on the next; RTP from the fourth
        rtp = ports + 4
        lines = [
            "poll_method epoll",
            "net_interface 127.0.0.1",
            f"sip_listen 127.0.0.1:{ports}",
            "sip_transports udp",
            f"rtp_ports {rtp}-{rtp + 9}",
            f"module_path {MODULES}",
            "module g711.so",
            "module aufile.so",  # the microphone: a WAV file
            "module aubridge.so",  # the loudspeaker: a bridge nobody reads (no sound card here)
            "module sndfile.so",  # ...and what was heard, decoded, into snd_path
            "module_app account.so",
            "module_app menu.so",  # answermode=auto lives here
            f"audio_source aufile,{self.speaks}",
            "audio_player aubridge,desk-phone",
            "audio_alert aubridge,desk-phone",
            f"snd_path {self.heard_dir}",
        ]
        where, transport = registrar(self.settings), "udp"
        if self.tls_ca is not None:
            where, transport = f"{self.settings.sip_bind}:{self.settings.sip_tls_port}", "tls"
            lines.append(f"sip_cafile {self.tls_ca}")
        (self.folder / "config").write_text("\n".join(lines) + "\n")
        password = sip_password(self.settings, self.extension)
        (self.folder / "accounts").write_text(
            f"<sip:{self.extension}@{where};transport={transport}>;auth_pass={password}"
            ";answermode=auto;audio_codecs=PCMU,PCMA;regint=60\n")

    def start(self) -> None:
        binary = shutil.which("baresip")
        assert binary is not None, "baresip is missing: run scripts/system-deps.sh (make test does)"
        self.write_config()
        with self.log.open("wb") as out:
            # -v: the log names the transport each request came over.
            self.proc = subprocess.Popen([binary, "-v", "-f", str(self.folder)],
                                         stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT)

    def log_lines(self) -> list[str]:
        if not self.log.exists():
            return []
        # The menu module redraws a status line with carriage returns; keep the real lines.
        text = self.log.read_bytes().decode(errors="replace").replace("\r", "\n")
        return [line for line in text.splitlines() if "audio=" not in line]

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_lines()[-lines:])

    async def registered(self, ari: AriClient, timeout: float = 15.0) -> None:
        """Wait until Asterisk has the phone's contact (ARI says the endpoint is online)."""
        state = [""]

        async def online() -> bool:
            assert self.proc is not None and self.proc.poll() is None, (
                f"baresip exited ({self.proc and self.proc.returncode}):\n{self.log_tail()}")
            try:
                endpoint = await ari.request("GET", f"/endpoints/PJSIP/{self.extension}")
                state[0] = endpoint.get("state", "")
            except AriError:
                state[0] = "unknown"
            return state[0] == "online"

        try:
            await wait_until(f"desk phone {self.extension} to register", online, timeout,
                             every_s=0.2)
        except AssertionError as exc:
            if not str(exc).startswith("timed out"):
                raise  # baresip exited: that message says why
            raise AssertionError(f"desk phone {self.extension} never registered (state "
                                 f"{state[0]!r}):\n{self.log_tail()}") from None

    def heard(self) -> Path:
        dumps = sorted(self.heard_dir.glob("*-dec.wav"))
        assert dumps, f"baresip kept no audio of the call:\n{self.log_tail()}"
        return dumps[-1]

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()  # baresip unregisters and hangs up on SIGTERM
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def install_pjsip_conf(sandbox: provision.Sandbox, settings: Settings, scratch: Path) -> str:
    """pjsip.conf (and the TLS key copies) for `settings` into the running sandbox, res_pjsip
    reloaded; the transports Asterisk then has. pjsip.conf names no Stasis app, so rendering it
    from the center's settings plus a certificate changes nothing else of the center's."""
    etc = sandbox.root / "etc/asterisk"
    asterisk_config.install_tls_files(settings, etc)
    asterisk_config.render(settings, scratch, sandbox.module_dir())
    target = etc / "pjsip.conf"
    tmp = target.with_name("pjsip.conf.ckm-tmp")
    tmp.write_text((scratch / "pjsip.conf").read_text())
    tmp.chmod(0o640)
    tmp.replace(target)
    sandbox.cli("module reload res_pjsip.so")
    return sandbox.cli("pjsip show transports")
