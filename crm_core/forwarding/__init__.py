"""Forwarding beyond ckm: cases sent to departments' own systems (an Open311 client, structured
e-mail), their answers mapped back onto the cases, and ckm's inbound e-mail (departments' and
residents' replies, quarantine)."""
