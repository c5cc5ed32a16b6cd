"""One settings object for the whole center.

Sources, later wins: built-in defaults, ``var/ckm.local.toml`` (written by ckm itself, e.g. the
ARI password generated per install), the file named by ``CKM_CONFIG`` (default ``ckm.toml`` in
the working directory, optional), then ``CKM_<FIELD>`` environment variables.

Rules: settings are read once at the edge (CLI, ``ckm run``) and passed down as a frozen object;
no module reads the environment on its own.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import secrets
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the setting."""


@dataclass(frozen=True)
class Settings:
    # --- where ckm keeps its own files
    data_dir: Path = ROOT / "var"
    cache_dir: Path = ROOT / ".cache"
    # --- Asterisk: "auto" uses a configured system Asterisk when one answers, else the sandbox
    asterisk_mode: str = "auto"  # auto | sandbox | system
    sandbox_dir: Path = ROOT / ".cache" / "asterisk-sid"
    debian_mirror: str = ""  # empty: the mirror already in the host's apt sources
    asterisk_http_host: str = "127.0.0.1"
    asterisk_http_port: int = 8088
    sip_bind: str = "127.0.0.1"
    sip_port: int = 5060
    # Carrier trunks as "name=host" pairs separated by commas (calls from host land in [inbound]).
    sip_trunks: str = ""
    # Browser softphone extensions, "1001-1020" or "1001,1002"; passwords derive from a secret.
    softphone_extensions: str = "1001-1020"
    # Desk SIP phones (hardware or desktop) of consultants, same forms; UDP on sip_bind:sip_port.
    desk_phone_extensions: str = "2001-2020"
    # Where the ACD's outbound calls (callbacks, transfers to outside numbers) are dialled:
    # [ckm-outbound] sends them to the first trunk; with no trunk it refuses them, loudly.
    outbound_context: str = "ckm-outbound"
    # Calls in progress (IVR and queued) above which new callers hear the short "all lines
    # are busy" script (pbx.overload); 80% of it turns speech recognition off.
    max_calls: int = 120
    rtp_start: int = 10000
    rtp_end: int = 10999
    # --- ARI
    ari_url: str = ""  # empty: http://{asterisk_http_host}:{asterisk_http_port}/ari
    ari_user: str = "ckm"
    ari_password: str = ""  # generated per install into var/ckm.local.toml
    ari_app: str = "ckm"
    # ckm's own prompts: the folder seen from this host, and the same folder as Asterisk sees
    # it (they differ only for the sandbox, whose root is a chroot).
    asterisk_sounds_dir: Path | None = None
    asterisk_sounds_uri_dir: str = "/var/lib/asterisk/sounds/ckm"
    # --- web
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    # --- TLS and what stands in front (README "Production"). With tls_cert and tls_key the web
    # server serves HTTPS on web_port and Asterisk's HTTP server adds a TLS listener, so browsers
    # reach SIP as wss://<the page's host>:<asterisk_tls_port>/ws. Empty: plain HTTP, ws://.
    tls_cert: Path | None = None  # PEM: the server certificate, then its chain
    tls_key: Path | None = None  # PEM private key (kept 0600)
    asterisk_tls_host: str = ""  # empty: web_host (browsers reach /ws where they reach the pages)
    asterisk_tls_port: int = 8089
    # With tls_cert / tls_key desk SIP phones may also register over TLS, on sip_bind:sip_tls_port.
    sip_tls_port: int = 5061
    # The SIP WebSocket URL browsers use; empty: the page's scheme and host, ws://…:8088/ws on
    # http, wss://…:asterisk_tls_port/ws on https. Set it when a proxy forwards /ws elsewhere.
    sip_ws_url: str = ""
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed: "10.0.0.5,
    # 192.168.10.0/24". From any other peer those headers are ignored.
    trusted_proxies: str = ""
    # Desk, wallboard and IVR editor sessions end after this many minutes without a request.
    session_idle_minutes: int = 30
    # --- CRM
    database_url: str = ""  # empty: sqlite:///{data_dir}/ckm.sqlite3
    # --- resident notifications (crm_core.notifications): e-mail through this SMTP server
    # (empty host: e-mail notifications wait, pending), SMS through this HTTP gateway.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_sender: str = "Warszawa 19115 <19115@localhost>"
    # Where residents' tracking links point; empty: http://{web_host}:{web_port}.
    public_base_url: str = ""
    sms_gateway_url: str = ""  # empty: SMS notifications wait, pending
    sms_gateway_token: str = ""
    # --- forwarding beyond ckm (crm_core.forwarding): how often a department's Open311 server is
    # asked about each open request; the inbound SMTP listener the MTA relays replies to (port 0:
    # off, and forwarded e-mails carry no reply tag); the reply address whose "+tag" variants
    # thread answers back (empty: the address of smtp_sender).
    forward_poll_s: float = 300.0
    mail_inbound_host: str = "127.0.0.1"
    mail_inbound_port: int = 0
    mail_reply_address: str = ""
    # Phone-call notifications (a call from 19115 that says the news,
    # crm_core.notifications.calls): calls per notification, the first retry's delay in
    # minutes (doubling, at most three times it: 10, 20, 30), the hours no resident is called
    # ("HH:MM-HH:MM" Warsaw time, or "none"), the queue a resident reaches by pressing 0, and
    # how many such calls run at once.
    notify_call_attempts: int = 3
    notify_call_retry_minutes: int = 10
    notify_call_quiet_hours: str = "21:00-08:00"
    notify_call_queue: str = "ogolna"
    notify_call_lines: int = 2
    # --- calls: the IVR script new calls to 19115 start with (ivr/scripts/<name>.yaml)
    ivr_script: str = "19115"
    log_level: str = "INFO"
    # --- IVR speech: None = under cache_dir / data_dir (see the properties below)
    ivr_prompt_dir: Path | None = None  # rendered TTS prompts (8 kHz .wav + 16 kHz .sln16)
    ivr_models_dir: Path | None = None  # joined Whisper weights, installed Vosk models
    vosk_models: str = ""  # extra Vosk model dirs per language: "pl=/path,ko=/path"
    # --- interoperability: the ACD's queue_log in Asterisk's format (cti/queue_log.py), and
    # who may read /metrics (Prometheus): loopback always, others with this bearer token.
    queue_log: bool = True
    queue_log_path: Path | None = None  # None: {data_dir}/queue_log
    metrics_token: str = ""  # empty: /metrics answers loopback clients only
    # --- reports (/reports, crm_core.services.reports_*): callers who hung up within this many
    # seconds of joining a queue are short abandons (shown, not counted against the service
    # level; 0: none, as on the wallboard); the monthly report (run on the 1st, or
    # `ckm reports monthly`) is written as XLSX into report_monthly_dir and/or e-mailed to
    # report_monthly_to (comma-separated addresses) through the SMTP settings above.
    report_short_abandon_s: int = 0
    report_monthly_dir: str = ""
    report_monthly_to: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ari_base(self) -> str:
        base = self.ari_url or f"http://{self.asterisk_http_host}:{self.asterisk_http_port}/ari"
        return base.rstrip("/")

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'ckm.sqlite3'}"

    @property
    def sounds_dir(self) -> Path:
        if self.asterisk_sounds_dir is not None:
            return self.asterisk_sounds_dir
        return self.sandbox_dir / self.asterisk_sounds_uri_dir.lstrip("/")

    def sound_uri(self, name: str) -> str:
        """ARI media URI of a prompt file `name` (no extension) in ckm's sounds folder."""
        return f"sound:{self.asterisk_sounds_uri_dir.rstrip('/')}/{name}"

    @property
    def prompt_dir(self) -> Path:
        return self.ivr_prompt_dir or self.cache_dir / "tts"

    @property
    def models_dir(self) -> Path:
        return self.ivr_models_dir or self.data_dir / "models"

    @property
    def queue_log_file(self) -> Path:
        return self.queue_log_path or self.data_dir / "queue_log"

    @property
    def public_url(self) -> str:
        """The center's address as residents reach it (tracking links in notifications)."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        return f"{'https' if self.tls else 'http'}://{self.web_host}:{self.web_port}"

    @property
    def local_file(self) -> Path:
        return self.data_dir / "ckm.local.toml"

    @property
    def tls(self) -> bool:
        """True when the web server (and Asterisk's /ws) serve TLS."""
        return self.tls_cert is not None and self.tls_key is not None

    @property
    def tls_bind_host(self) -> str:
        return self.asterisk_tls_host or self.web_host

    @property
    def proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return parse_networks(self.trusted_proxies)

    def public(self) -> dict[str, str]:
        """Every setting as text, secrets masked (for `ckm settings` and the README)."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "extra":
                continue
            if ("password" in f.name or f.name.endswith("_token")) and value:
                value = "********"
            out[f.name] = str(value)
        return out


def _coerce(name: str, kind: Any, raw: Any) -> Any:
    text_kind = str(kind)
    try:
        if "Path" in text_kind:
            return None if raw in (None, "") and "None" in text_kind else Path(str(raw))
        if text_kind in ("int", "<class 'int'>"):
            return int(raw)
        if text_kind in ("float", "<class 'float'>"):
            return float(raw)
        if text_kind in ("bool", "<class 'bool'>"):
            return str(raw).lower() in ("1", "true", "yes", "on")
        if text_kind.startswith("dict"):
            return dict(raw)
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"setting {name}: cannot use {raw!r} ({exc})") from None


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None


def load(env: dict[str, str] | None = None, *, generate_secrets: bool = True) -> Settings:
    env = dict(os.environ if env is None else env)
    known = {f.name: f for f in fields(Settings)}
    values: dict[str, Any] = {}
    data_dir = Path(env.get("CKM_DATA_DIR", str(Settings.data_dir)))
    config_path = Path(env.get("CKM_CONFIG", "ckm.toml"))
    layers = [_read_toml(data_dir / "ckm.local.toml"), _read_toml(config_path)]
    for layer in layers:
        for key, raw in layer.items():
            if key not in known:
                raise SettingsError(f"unknown setting {key!r} (known: {', '.join(sorted(known))})")
            values[key] = raw
    for key, raw in env.items():
        if key.startswith("CKM_") and key not in ("CKM_CONFIG",):
            name = key[4:].lower()
            if name in known:
                values[name] = raw
    coerced = {k: _coerce(k, known[k].type, v) for k, v in values.items()}
    settings = Settings(**coerced)
    if settings.asterisk_mode not in ("auto", "sandbox", "system"):
        raise SettingsError(
            f"setting asterisk_mode: expected auto, sandbox or system, got {settings.asterisk_mode!r}"
        )
    if settings.session_idle_minutes < 1:
        raise SettingsError(
            f"setting session_idle_minutes: expected 1 or more, got {settings.session_idle_minutes}"
        )
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise SettingsError("settings tls_cert and tls_key: set both (HTTPS) or neither (HTTP)")
    settings.proxy_networks  # noqa: B018 -- refuse a bad trusted_proxies at start-up
    if not settings.ari_password and generate_secrets:
        settings = dataclasses.replace(settings, ari_password=_generate_ari_password(settings))
    return settings


def parse_networks(spec: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """"10.0.0.5, 192.168.0.0/24, ::1" → networks (a bare address is a /32 or /128)."""
    out = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        try:
            out.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise SettingsError(f"setting trusted_proxies: {part!r} is not an IP address or "
                                "network") from None
    return tuple(out)


def record_local(settings: Settings, **values: Any) -> Path:
    """Keep `values` in var/ckm.local.toml (the settings ckm writes itself: the ARI password,
    the lab certificate's paths), beside what is there already; the file stays 0600."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    existing = _read_toml(settings.local_file)
    existing.update(values)
    lines = [f"{k} = {_toml_value(v)}" for k, v in existing.items()]
    tmp = settings.local_file.with_suffix(".tmp")
    tmp.write_text("# written by ckm; per-install secrets and files\n" + "\n".join(lines) + "\n")
    tmp.chmod(0o600)
    tmp.replace(settings.local_file)
    return settings.local_file


def _generate_ari_password(settings: Settings) -> str:
    """Create the per-install ARI password once and keep it in var/ckm.local.toml."""
    password = secrets.token_urlsafe(24)
    record_local(settings, ari_password=password)
    return password


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
