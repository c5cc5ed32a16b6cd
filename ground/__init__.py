"""The ground floor every package builds on: settings (`ground.settings`), the in-process event
bus (`ground.bus`), the center's domain events (`ground.events`), where a web request really
comes from (`ground.edge`), the consultants' SIP accounts (`ground.phones`) and Warsaw's
public holidays (`ground.holidays`).

Rules: ground imports nothing of ckm's other packages (the import contract in pyproject.toml
checks it); what is here is shared vocabulary and plumbing, no part of the center's behaviour.
"""
