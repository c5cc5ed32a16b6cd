"""Supervisors see the e-mail ckm quarantined (no or a forged case tag, a stranger) at
/wallboard/api/quarantine, with the reason; consultants do not. The mail comes in through the
real inbound listener, sent by smtplib as an MTA would relay it."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage

import aiohttp
from aiohttp import web

from crm_core import mail_tokens
from crm_core.forwarding.inbound import InboundServer
from crm_core.services import users
from tests.desktop.live import LiveDesk

SECRET = mail_tokens.secret_from("quarantine test")


async def test_quarantined_mail_is_listed_for_supervisors(
        desk_app: tuple[LiveDesk, web.Application]) -> None:
    live, _ = desk_app
    listener = InboundServer(live.db, SECRET, "127.0.0.1", 0)
    await listener.start()
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "ktos@example.org", "19115+d-7-0123456789abcdef@um.test", "Re: x"
    msg.set_content("ROZWIĄZANE: sam załatwiłem")

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", listener.port, timeout=10) as client:
            client.send_message(msg)

    try:
        await asyncio.to_thread(send)
    finally:
        await listener.stop()
    async with aiohttp.ClientSession() as http:
        for username, expected in (("kierownik", 200), ("konsultant1", 403)):
            token = users.open_session(live.db, users.get_user(live.db, username).id)
            async with http.get(live.url + "/wallboard/api/quarantine",
                                headers={"Cookie": f"ckm_session={token}"}) as response:
                assert response.status == expected, username
                if expected == 200:
                    body = await response.json()
    assert body["quarantined"] == 1
    (row,) = body["mail"]
    assert row["from"] == "ktos@example.org" and row["subject"] == "Re: x"
    assert row["reason"] == "forged or foreign case tag for case 7"
    assert "sam załatwiłem" in row["excerpt"]
    # The wallboard page shows them in a panel of their own.
    token = users.open_session(live.db, users.get_user(live.db, "kierownik").id)
    async with aiohttp.ClientSession() as http, http.get(
            live.url + "/wallboard", headers={"Cookie": f"ckm_session={token}"}) as response:
        assert response.status == 200
        page = await response.text()
    panel = page.split('id="quarantine"', 1)[1].split("</section>", 1)[0]
    assert "Poczta w kwarantannie (1)" in panel and "ktos@example.org" in panel
    assert "forged or foreign case tag for case 7" in panel and "ckm mail quarantine" in panel
