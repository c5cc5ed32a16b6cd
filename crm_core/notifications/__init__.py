"""Resident notifications: the pure rules (`rules`), the outbox in the CRM database (`store`),
the senders (`senders`: SMTP e-mail, HTTP SMS gateway) and the dispatcher task (`dispatcher`)."""
