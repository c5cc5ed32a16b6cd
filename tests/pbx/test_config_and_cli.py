"""Rendered Asterisk configuration, settings, and the `ckm` command's answers to bad input."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from ground import phones as sip_accounts
from ground import settings as settings_mod
from ground.settings import Settings
from pbx import asterisk_config
from pbx.caller import CallPlan
from tests.polling import poll_until


def render(tmp_path: Path, settings: Settings) -> dict[str, str]:
    asterisk_config.render(settings, tmp_path, "/usr/lib/x86_64-linux-gnu/asterisk/modules")
    return {p.name: p.read_text() for p in tmp_path.iterdir()}


def test_every_19115_form_goes_to_stasis_from_every_inbound_context(tmp_path: Path,
                                                                    settings: Settings) -> None:
    ext = render(tmp_path, settings)["extensions.conf"]
    for number in ("19115", "+4819115", "4819115", "0019115"):
        assert f"exten => {number},1,Set(CKM_DIALED={number})" in ext
    for context in ("[inbound]", "[inbound-web]", "[agents]"):
        block = ext.split(context, 1)[1].split("\n[", 1)[0]
        assert "include => ckm-19115" in block
    assert "Stasis(${CKM_TO_APP},inbound,${CKM_DIALED})" in ext
    # The app is the rendered one unless a scripted resident named another (tests do).
    assert "Set(CKM_TO_APP=${IF($[\"${CKM_ROUTE_APP}\" = \"\"]?${CKM_APP}:${CKM_ROUTE_APP})})" in ext
    assert f"CKM_APP = {settings.ari_app}" in ext


def test_ari_is_on_loopback_with_the_generated_password(tmp_path: Path,
                                                        settings: Settings) -> None:
    files = render(tmp_path, settings)
    assert "bindaddr = 127.0.0.1" in files["http.conf"]
    assert f"password = {settings.ari_password}" in files["ari.conf"]
    assert len(settings.ari_password) >= 24


def test_softphones_get_distinct_derived_passwords_and_webrtc_sections(
        tmp_path: Path, settings: Settings) -> None:
    pjsip = render(tmp_path, replace(settings, softphone_extensions="1001-1003,1010"))["pjsip.conf"]
    phones = sip_accounts.softphones(replace(settings, softphone_extensions="1001-1003,1010"))
    assert [p.user for p in phones] == ["1001", "1002", "1003", "1010"]
    assert len({p.password for p in phones}) == 4
    assert "webrtc = yes" in pjsip and "protocol = ws" in pjsip
    for phone in phones:
        assert f"password = {phone.password}" in pjsip


def test_desk_phones_are_plain_udp_sip_users_with_the_softphones_password_derivation(
        tmp_path: Path, settings: Settings) -> None:
    local = replace(settings, softphone_extensions="1001-1002", desk_phone_extensions="2001-2002")
    pjsip = render(tmp_path, local)["pjsip.conf"]
    desks = sip_accounts.desk_phones(local)
    assert [(p.user, p.kind) for p in desks] == [("2001", "desk"), ("2002", "desk")]
    # One derivation for both kinds: the password depends on the extension only.
    assert desks[0].password == sip_accounts.sip_password(local, "2001")
    assert sip_accounts.softphones(local)[0].password == sip_accounts.sip_password(local, "1001")
    assert len({p.password for p in [*desks, *sip_accounts.softphones(local)]}) == 4
    template = pjsip.split("[desk-phone-endpoint](!)", 1)[1].split("\n\n", 1)[0]
    for line in ("allow = ulaw,alaw", "dtmf_mode = rfc4733", "rtp_symmetric = yes",
                 "force_rport = yes", "rewrite_contact = yes", "context = agents"):
        assert line in template
    assert "webrtc" not in template
    for phone in desks:
        section = pjsip.split(f"[{phone.user}](desk-phone-endpoint)", 1)[1].split("\n\n", 1)[0]
        assert f"auth = {phone.user}" in section
        assert f"[{phone.user}](userpass-auth)\nusername = {phone.user}\npassword = {phone.password}" in pjsip
        assert f"[{phone.user}](desk-phone-aor)" in pjsip
    assert sip_accounts.phone_of(local, "2002") == desks[1]
    assert sip_accounts.phone_of(local, "1002") == sip_accounts.softphones(local)[1]
    assert sip_accounts.phone_of(local, "3000") is None
    assert sip_accounts.phone_of(local, None) is None
    # No certificate: UDP only.
    assert "protocol = tls" not in pjsip and sip_accounts.tls_registrar(local) is None


def test_with_a_certificate_desk_phones_may_register_over_tls_too(tmp_path: Path,
                                                                 settings: Settings) -> None:
    local = replace(settings, tls_cert=tmp_path / "c.pem", tls_key=tmp_path / "c.key",
                    sip_tls_port=5071)
    pjsip = render(tmp_path / "etc", local)["pjsip.conf"]
    section = pjsip.split("[transport-tls]", 1)[1].split("\n\n", 1)[0]
    for line in ("protocol = tls", f"bind = {local.sip_bind}:5071", "method = tlsv1_2",
                 f"cert_file = {asterisk_config.TLS_CERT}",
                 f"priv_key_file = {asterisk_config.TLS_KEY}"):
        assert line in section
    # Desk phones pin no transport: each is reached the way it registered, UDP or TLS.
    template = pjsip.split("[desk-phone-endpoint](!)", 1)[1].split("\n\n", 1)[0]
    assert "transport =" not in template
    assert sip_accounts.tls_registrar(local) == f"{local.sip_bind}:5071"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("softphone_extensions", "1005-1001", "bad range"),
    ("softphone_extensions", "abc", "not an extension"),
    ("desk_phone_extensions", "2005-2001", "desk_phone_extensions: bad range"),
    ("desk_phone_extensions", "1010-1030", "1010, 1011, 1012, 1013, 1014 also in softphone_extensions"),
    ("sip_trunks", "carrier", "expected name=host"),
])
def test_bad_telephony_settings_are_named(settings: Settings, field: str, value: str,
                                          message: str) -> None:
    broken = replace(settings, **{field: value})
    with pytest.raises(settings_mod.SettingsError, match=message):
        asterisk_config.context(broken, "/x")


def test_settings_come_from_toml_then_environment_and_password_is_generated_once(
        tmp_path: Path) -> None:
    (tmp_path / "ckm.toml").write_text('web_port = 9090\nari_app = "ckm-a"\n')
    env = {"CKM_DATA_DIR": str(tmp_path / "var"), "CKM_CONFIG": str(tmp_path / "ckm.toml"),
           "CKM_ARI_APP": "ckm-b"}
    first = settings_mod.load(env)
    assert first.web_port == 9090 and first.ari_app == "ckm-b"
    second = settings_mod.load(env)
    assert first.ari_password == second.ari_password
    assert (tmp_path / "var" / "ckm.local.toml").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(("toml", "message"), [
    ("web_port = 'eighty'", "cannot use 'eighty'"),
    ("colour = 'blue'", "unknown setting 'colour'"),
    ("asterisk_mode = 'cloud'", "expected auto, sandbox or system"),
    ("web_port = [", "not valid TOML"),
])
def test_bad_settings_files_are_refused_with_the_setting_named(tmp_path: Path, toml: str,
                                                               message: str) -> None:
    (tmp_path / "ckm.toml").write_text(toml)
    env = {"CKM_DATA_DIR": str(tmp_path), "CKM_CONFIG": str(tmp_path / "ckm.toml")}
    with pytest.raises(settings_mod.SettingsError, match=message):
        settings_mod.load(env)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"dtmf": "1,x"}, "not a DTMF digit"),
    ({"dtmf": "wq,1"}, "not a pause"),
    ({"number": "19115<script>"}, "digits only"),
    ({"say": ["/nonexistent.wav"]}, "is not a file"),
    ({"hangup_after": 0}, "must be positive"),
])
def test_call_plan_refuses_bad_input(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"number": "19115", "caller_id": "+48600100200", "name": "Jan",
                               "dtmf": "", "say": [], "hangup_after": 5.0, "wait_answer": 5.0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        CallPlan.from_args(**args)  # type: ignore[arg-type]


def test_call_plan_parses_pauses_and_digits() -> None:
    plan = CallPlan.from_args(number="+4819115", caller_id="+48600100200", name="Jan",
                              dtmf="1,w2,2,#", say=[], hangup_after=5, wait_answer=5)
    assert [(s.pause_s, s.digit) for s in plan.dtmf] == [(0.5, "1"), (2.0, "2"), (0.5, "#")]


def test_ckm_call_with_bad_dtmf_exits_2_with_a_message_not_a_traceback() -> None:
    proc = subprocess.run([sys.executable, "-m", "ckm.cli", "call", "--dtmf", "1,9x"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "ckm call: --dtmf: '9x' is not a DTMF digit" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_ckm_call_with_asterisk_unreachable_says_so(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "CKM_ARI_URL": "http://127.0.0.1:9/ari",
           "CKM_DATA_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "ckm.cli", "call", "--json"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "unreachable" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.asterisk
def test_ckm_call_json_summary_through_the_real_asterisk(asterisk: object,
                                                         settings: Settings) -> None:
    import json
    import os
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, CKM_ARI_APP=settings.ari_app, CKM_WEB_PORT=str(port))
    controller = subprocess.Popen([sys.executable, "-m", "ckm.cli", "run", "--no-asterisk"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        # Call once the controller is connected (a fixed sleep lost the race on a busy box).
        def connected() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    return bool(json.loads(r.read()).get("ari") == "connected")
            except OSError:
                return False

        poll_until("the controller to connect to ARI", connected, 90, every_s=0.2)
        proc = subprocess.run([sys.executable, "-m", "ckm.cli", "call", "19115", "--caller-id",
                               "+48600100200", "--name", "Jan Kowalski", "--dtmf", "1,2",
                               "--hangup-after", "3", "--json"], capture_output=True, text=True,
                              timeout=60, env=env)
        assert proc.returncode == 0, proc.stderr
        summary = json.loads(proc.stdout)
        assert summary["answered"] is True
        assert summary["dtmf_sent"] == ["1", "2"]
        assert summary["prompts_heard"], "the resident heard nothing"
        assert summary["ended_by"] in ("caller", "center")
        # Each prompt with its text and language, not only its sound file's hash.
        first = summary["prompts"][0]
        assert (first["prompt"], first["language"]) == ("greeting.prompt.pl", "pl"), first
        assert first["text"].startswith("Dzień dobry, tu Miejskie Centrum Kontaktu")
        # 3 s into the greeting: the IVR is there and no step is taken yet.
        assert (summary["ivr_node"], summary["ivr_path"]) == ("greeting", []), summary
        assert summary["language"] == "pl"
    finally:
        controller.terminate()
        controller.wait(10)


def test_ckm_phones_list_prints_each_desk_phones_credentials_and_its_consultant(
        tmp_path: Path) -> None:
    import json
    import os

    from crm_core.db import Database, migrate
    from crm_core.services import users

    env = {"CKM_DATA_DIR": str(tmp_path), "CKM_CONFIG": str(tmp_path / "none.toml"),
           "CKM_DESK_PHONE_EXTENSIONS": "2001-2003"}
    local = settings_mod.load(env)
    migrate(local.db_url)
    db = Database(local.db_url)
    users.create_user(db, username="biurko1", full_name="Konsultant przy biurku",
                      role="consultant", password="Dlugie-haslo-biurka-7", extension="2002")
    db.dispose()
    proc = subprocess.run([sys.executable, "-m", "ckm.cli", "phones", "list", "--json"],
                          capture_output=True, text=True, timeout=60, env={**os.environ, **env})
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["user"] for r in rows] == ["2001", "2002", "2003"]
    for row in rows:
        assert row["password"] == sip_accounts.sip_password(local, row["user"])
        assert row["registrar"] == f"{local.sip_bind}:{local.sip_port}" and row["transport"] == "udp"
        assert row["tls_registrar"] is None
        assert row["registered"] is None  # this install's ARI password is not Asterisk's
    assert [r["consultant"] for r in rows] == ["", "biurko1", ""]
