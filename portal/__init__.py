"""Residents' self-service portal and the Open311 GeoReport v2 API.

Layout (one concept per module):
  config.py     PortalConfig: limits, media folder, the browser call's SIP identity
  catalog.py    what a resident may report: services built from the CRM's categories, their
                Open311 attributes, which categories accept anonymous reports
  fields.py     parsing of untrusted text into typed values, one message per bad field
  photos.py     uploaded photos: type sniffed from bytes, size cap, stored outside the web root
  reports.py    a report (from the form or the API) → resident, interaction and case in the CRM
  tracking.py   what a resident or an API client may see of a case (never contact data)
  ratelimit.py  token buckets per IP and per API key
  web.py        shared web plumbing: security headers, CSRF, language
  pages.py      the portal's HTML pages (jinja2, Polish first, English switchable)
  open311/      GeoReport v2: handlers, JSON/XML rendering, the OpenAPI document
  keys.py       API-key administration (list; create/revoke are crm_core's)
  cli.py        `ckm open311 keys create|list|revoke`
  wiring.py     `setup(app, center)`: mounts /portal/ and /open311/v2/ as sub-applications

Every database call runs in a worker thread: the portal shares the event loop with live calls.
"""
