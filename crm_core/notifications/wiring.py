"""The dispatcher built from the settings (started by `ckm.assembly`, stopped with the center)."""

from __future__ import annotations

from crm_core.db import Database
from crm_core.notifications import store
from crm_core.notifications.dispatcher import Dispatcher, DispatchPolicy
from crm_core.notifications.senders import EmailSender, HttpSmsGateway, SmtpConfig
from ground.settings import Settings


def smtp_config(settings: Settings) -> SmtpConfig:
    return SmtpConfig(host=settings.smtp_host, port=settings.smtp_port, starttls=settings.smtp_starttls,
                      user=settings.smtp_user, password=settings.smtp_password,
                      sender=settings.smtp_sender)


def build(settings: Settings, db: Database, policy: DispatchPolicy | None = None) -> Dispatcher:
    store.configure(settings.public_url)
    email = EmailSender(smtp_config(settings)) if settings.smtp_host else None
    sms = (HttpSmsGateway(settings.sms_gateway_url, settings.sms_gateway_token)
           if settings.sms_gateway_url else None)
    return Dispatcher(db, email=email, sms=sms, policy=policy)
