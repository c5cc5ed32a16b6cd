"""Render asterisk-config/*.j2 into an Asterisk configuration directory.

Pure apart from reading templates and writing the target folder: the context is computed from
Settings, so the same settings always give the same files (tests compare them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2

from ground.phones import derived_secret, desk_phones, softphones
from ground.settings import ROOT, Settings, SettingsError

TEMPLATE_DIR = ROOT / "asterisk-config"

# Every form residents use to dial the center.
NUMBERS_19115 = ("19115", "+4819115", "4819115", "0019115")

# Modules a city contact center never uses; dropped to start fast and log cleanly.
NOLOAD = (
    "app_adsiprog", "app_alarmreceiver", "app_amd", "app_dictate", "app_directory", "app_disa",
    "app_festival", "app_followme", "app_getcpeid", "app_jack", "app_minivm", "app_mp3",
    "app_morsecode", "app_privacy", "app_sla", "app_sms", "app_voicemail", "app_voicemail_odbc",
    "app_zapateller", "cdr_adaptive_odbc", "cdr_csv", "cdr_custom", "cdr_manager", "cdr_odbc",
    "cdr_pgsql", "cdr_radius", "cdr_sqlite3_custom", "cdr_tds", "cel_custom", "cel_manager",
    "cel_odbc", "cel_pgsql", "cel_radius", "cel_sqlite3_custom", "cel_tds", "chan_console",
    "chan_iax2", "chan_motif", "chan_unistim", "func_odbc", "pbx_ael", "pbx_dundi", "pbx_lua",
    "pbx_realtime", "res_adsi", "res_ael_share", "res_calendar", "res_calendar_caldav",
    "res_calendar_ews", "res_calendar_exchange", "res_calendar_icalendar", "res_config_curl",
    "res_config_ldap", "res_config_odbc", "res_config_pgsql", "res_config_sqlite3",
    "res_fax", "res_fax_spandsp", "res_hep", "res_hep_pjsip", "res_hep_rtcp", "res_odbc",
    "res_odbc_transaction", "res_phoneprov", "res_pjsip_phoneprov_provider", "res_smdi",
    "res_snmp", "res_statsd", "res_xmpp", "res_stir_shaken", "res_pjsip_stir_shaken",
    "res_aeap", "res_speech_aeap", "res_geolocation", "res_pjsip_geolocation",
    "res_resolver_unbound", "res_corosync", "res_config_mysql", "res_pjsip_send_to_voicemail",
    "res_mwi_devstate", "res_pjsip_mwi", "res_pjsip_mwi_body_generator", "res_stasis_test",
    "res_prometheus", "res_cdrel_custom", "res_parking", "app_agent_pool",
    # timerfd is the cheap timing source on Linux; the pthread one burns CPU per channel.
    "res_timing_pthread",
)


# Where Asterisk reads the center's certificate and key (copies of tls_cert / tls_key; the
# sandbox's install_config puts them there, a system Asterisk's admin copies them).
TLS_CERT = "/etc/asterisk/keys/ckm.pem"
TLS_KEY = "/etc/asterisk/keys/ckm.key"


def install_tls_files(settings: Settings, etc_dir: Path) -> bool:
    """Copy tls_cert / tls_key to `etc_dir`/keys as TLS_CERT / TLS_KEY see them (key 0600).
    False when TLS is off (then nothing is copied, and stale copies are removed)."""
    keys = etc_dir / "keys"
    cert_copy, key_copy = keys / Path(TLS_CERT).name, keys / Path(TLS_KEY).name
    if settings.tls_cert is None or settings.tls_key is None:
        for stale in (cert_copy, key_copy):
            stale.unlink(missing_ok=True)
        return False
    keys.mkdir(parents=True, exist_ok=True)
    keys.chmod(0o700)
    for source, target, mode in ((settings.tls_cert, cert_copy, 0o644),
                                 (settings.tls_key, key_copy, 0o600)):
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise SettingsError(f"TLS for Asterisk: cannot read {source}: {exc}") from None
        tmp = target.with_name(target.name + ".ckm-tmp")
        tmp.touch(mode=0o600)
        tmp.chmod(0o600)
        tmp.write_bytes(data)
        tmp.chmod(mode)
        tmp.replace(target)
    return True


@dataclass(frozen=True)
class Trunk:
    name: str
    host: str


def trunks(settings: Settings) -> list[Trunk]:
    out: list[Trunk] = []
    for part in filter(None, (p.strip() for p in settings.sip_trunks.split(","))):
        name, sep, host = part.partition("=")
        if not sep or not name.isidentifier() or not host:
            raise SettingsError(f"setting sip_trunks: expected name=host, got {part!r}")
        out.append(Trunk(name=f"trunk-{name}", host=host))
    return out


def context(settings: Settings, module_dir: str) -> dict[str, object]:
    return {
        "module_dir": module_dir,
        "noload": NOLOAD,
        "http_host": settings.asterisk_http_host,
        "http_port": settings.asterisk_http_port,
        "tls": settings.tls,
        "tls_host": f"[{settings.tls_bind_host}]" if ":" in settings.tls_bind_host
                    else settings.tls_bind_host,
        "tls_port": settings.asterisk_tls_port,
        "tls_cert": TLS_CERT,
        "tls_key": TLS_KEY,
        "ari_user": settings.ari_user,
        "ari_password": settings.ari_password,
        "ari_app": settings.ari_app,
        "web_host": settings.web_host,
        "web_port": settings.web_port,
        "sip_bind": settings.sip_bind,
        "sip_port": settings.sip_port,
        "sip_tls_port": settings.sip_tls_port,
        "rtp_start": settings.rtp_start,
        "rtp_end": settings.rtp_end,
        "numbers": NUMBERS_19115,
        "softphones": softphones(settings),
        "desk_phones": desk_phones(settings),
        "webcall_password": derived_secret(settings, "sip:webcall"),
        "trunks": trunks(settings),
        "sounds_uri_dir": settings.asterisk_sounds_uri_dir.rstrip("/"),
    }


def render(settings: Settings, target: Path, module_dir: str) -> list[Path]:
    """Write every template into `target`; return the files written."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # Asterisk config, not HTML
    )
    ctx = context(settings, module_dir)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for template in sorted(TEMPLATE_DIR.glob("*.j2")):
        out = target / template.name.removesuffix(".j2")
        text = env.get_template(template.name).render(**ctx)
        tmp = out.with_name(out.name + ".ckm-tmp")
        tmp.write_text(text)
        tmp.chmod(0o640)
        tmp.replace(out)
        written.append(out)
    return written
