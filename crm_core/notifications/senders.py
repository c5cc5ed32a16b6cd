"""The channels' senders: e-mail through an SMTP server, SMS through an HTTP gateway.

E-mail: `smtplib` on worker threads, one connection per batch (EHLO, STARTTLS when set, AUTH
when a user is set, then one transaction per message), so hundreds of messages a second go
through one server without a handshake each. A reply 5xx to a message (e.g. an unknown
recipient) fails it for good; a 4xx, a refused or broken connection, a failed login or a
refused sender address (the center's configuration) is temporary (retried).

SMS: `HttpSmsGateway` speaks the shape most JSON SMS APIs share:

    POST <sms_gateway_url>
    Authorization: Bearer <sms_gateway_token>
    Idempotency-Key: <the notification's key>
    Content-Type: application/json
    {"to": "+48600100200", "text": "…", "reference": "<the notification's key>"}

2xx: accepted. 408, 429 and 5xx (and no answer at all): temporary. Any other 4xx: the gateway
refuses that message (bad number, blocked recipient): failed for good. Another gateway is
another class with the same `async send(item) -> Outcome`.
"""

from __future__ import annotations

import re
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formataddr, formatdate, parseaddr
from typing import Protocol

import aiohttp

from crm_core.notifications.store import OK, Outcome, Outgoing

_SMTP_LINES = compat32.clone(linesep="\r\n")


class SmsGateway(Protocol):
    async def send(self, item: Outgoing) -> Outcome: ...

    async def close(self) -> None: ...


def message_id(key: str, domain: str) -> str:
    """A stable Message-ID per notification: a copy re-sent in the at-least-once window has
    the same one, so mail clients and archives may drop it."""
    return f"<{re.sub(r'[^A-Za-z0-9.-]', '.', key)}@{domain}>"


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    starttls: bool = False
    user: str = ""
    password: str = ""
    sender: str = "19115@localhost"
    timeout_s: float = 10.0  # per socket operation


class EmailSender:
    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.domain = config.sender.rsplit("@", 1)[-1].strip(">") or "localhost"
        name, address = parseaddr(config.sender)
        self._from = formataddr((name, address), charset="utf-8")
        self._envelope_from = address
        # The Reply-To of a message, when one is set (crm_core.forwarding: a tagged address
        # that threads the answer back onto the case); None: replies go to the sender.
        self.reply_to: Callable[[Outgoing], str | None] | None = None

    def build(self, item: Outgoing) -> bytes:
        """The message as sent: multipart/alternative (text, then HTML), UTF-8 in base64 (lines
        stay short whatever the text). Built with the email package's compat32 classes: a third
        of the cost of EmailMessage, which matters at hundreds of messages a second."""
        msg: MIMEText | MIMEMultipart
        text = MIMEText(item.text, "plain", "utf-8")
        if item.html:
            msg = MIMEMultipart("alternative")
            msg.attach(text)
            msg.attach(MIMEText(item.html, "html", "utf-8"))
        else:
            msg = text
        msg["From"] = self._from
        msg["To"] = item.to
        subject = item.subject
        msg["Subject"] = subject if subject.isascii() else Header(subject, "utf-8").encode()
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = message_id(item.key, self.domain)
        reply_to = self.reply_to(item) if self.reply_to is not None else None
        if reply_to:
            msg["Reply-To"] = reply_to
        msg["Content-Language"] = item.language
        msg["Auto-Submitted"] = "auto-generated"
        return msg.as_bytes(policy=_SMTP_LINES)  # smtplib sends bytes as they are: CRLF here

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout_s)
        try:
            smtp.ehlo()
            if c.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if c.user:
                smtp.login(c.user, c.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send_batch(self, items: list[Outgoing], deadline: float | None = None) -> list[Outcome]:
        """Blocking (run on a thread): send `items` over one connection, an outcome each. Past
        `deadline` (time.monotonic()) the rest are left for the next round, unsent."""
        out: list[Outcome] = []
        try:
            smtp = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            return [Outcome(False, error=f"SMTP {self.config.host}:{self.config.port}: {exc}")] * len(items)
        try:
            for item in items:
                if deadline is not None and time.monotonic() > deadline:
                    out.append(Outcome(False, error="not sent: the round ran out of time (slow SMTP server)"))
                    break
                outcome = self._send_one(smtp, item)
                out.append(outcome)
                if not outcome.ok and not outcome.permanent and _connection_gone(outcome):
                    break
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
        gone = out[-1].error if out else "not sent"
        out += [Outcome(False, error=gone)] * (len(items) - len(out))
        return out

    def _send_one(self, smtp: smtplib.SMTP, item: Outgoing) -> Outcome:
        try:
            refused = smtp.sendmail(self._envelope_from, [item.to], self.build(item))
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (550, b"refused"))
            return Outcome(False, permanent=code >= 500, error=f"SMTP {code} {_text(text)}")
        except smtplib.SMTPSenderRefused as exc:
            # Our own sender address refused: the center's configuration, not this resident's
            # address — retried (and failed after the last try), fixable with `ckm notifications retry`.
            return Outcome(False, error=f"SMTP sender refused: {exc.smtp_code} {_text(exc.smtp_error)}")
        except smtplib.SMTPResponseException as exc:
            permanent = exc.smtp_code >= 500 and exc.smtp_code != 521
            return Outcome(False, permanent=permanent, error=f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}")
        except (OSError, smtplib.SMTPException) as exc:
            return Outcome(False, error=f"SMTP connection: {exc}")
        if refused:
            code, text = next(iter(refused.values()))
            return Outcome(False, permanent=code >= 500, error=f"SMTP {code} {_text(text)}")
        return OK


def _connection_gone(outcome: Outcome) -> bool:
    return (outcome.error or "").startswith("SMTP connection")


def _text(raw: bytes | str) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)


class HttpSmsGateway:
    """The JSON SMS gateway adapter (see the module doc for the request's shape)."""

    def __init__(self, url: str, token: str, *, timeout_s: float = 10.0) -> None:
        self.url = url
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def send(self, item: Outgoing) -> Outcome:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        headers = {"Idempotency-Key": item.key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = {"to": item.to, "text": item.text, "reference": item.key}
        try:
            async with self._session.post(self.url, json=body, headers=headers) as resp:
                detail = (await resp.text())[:300]
                if 200 <= resp.status < 300:
                    return OK
                permanent = 400 <= resp.status < 500 and resp.status not in (408, 429)
                return Outcome(False, permanent=permanent, error=f"SMS gateway HTTP {resp.status}: {detail}")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return Outcome(False, error=f"SMS gateway: {type(exc).__name__} {exc}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
