"""The forwarder and the inbound mail listener built from the settings (started by
`ckm.assembly`, stopped with the center)."""

from __future__ import annotations

from email.utils import parseaddr
from pathlib import Path

from crm_core import mail_tokens
from crm_core.db import Database
from crm_core.forwarding.inbound import InboundServer
from crm_core.forwarding.worker import Forwarder, ForwardPolicy, ReplyAddresses
from crm_core.notifications import store
from crm_core.notifications.senders import EmailSender
from crm_core.notifications.wiring import smtp_config
from ground.settings import Settings


def reply_secret(settings: Settings) -> bytes:
    return mail_tokens.secret_from(settings.ari_password or "ckm")


def reply_addresses(settings: Settings) -> ReplyAddresses | None:
    """Tagged reply addresses only when ckm receives mail (else answers would go nowhere)."""
    if not settings.mail_inbound_port:
        return None
    base = settings.mail_reply_address or parseaddr(settings.smtp_sender)[1]
    return ReplyAddresses(base, reply_secret(settings))


def build_forwarder(settings: Settings, db: Database, *, media_dir: Path | None = None,
                    policy: ForwardPolicy | None = None) -> Forwarder:
    email = EmailSender(smtp_config(settings)) if settings.smtp_host else None
    policy = policy or ForwardPolicy(poll_s=settings.forward_poll_s)
    return Forwarder(db, public_base_url=settings.public_url, media_dir=media_dir, email=email,
                     replies=reply_addresses(settings), policy=policy)


def resident_reply_to(settings: Settings, email: EmailSender) -> None:
    """Residents' e-mails get a Reply-To tagged for their case: an answer to the department's
    question (or any reply) lands on the case."""
    replies = reply_addresses(settings)
    store.configure_replies(by_email=replies is not None)  # what the question e-mail says
    if replies is not None:
        email.reply_to = lambda item: replies.for_case_key("r", item.key)


def build_inbound(settings: Settings, db: Database) -> InboundServer | None:
    if not settings.mail_inbound_port:
        return None
    return InboundServer(db, reply_secret(settings), settings.mail_inbound_host,
                         settings.mail_inbound_port)
