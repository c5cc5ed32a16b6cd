"""Residents' self-service portal and the Open311 GeoReport v2 API.

Layout (one concept per module):
  config.py     PortalConfig: limits, media folder, the browser call's SIP identity
  catalog.py    what a resident may report: services built from the CRM's categories, their
                Open311 attributes, which categories accept anonymous reports
  fields.py     parsing of untrusted text into typed values, one message per bad field
  reports.py    a report (from the form or the API) → resident, interaction and case in the CRM
  tracking.py   what a resident or an API client may see of a case (never contact data)
  ratelimit.py  token buckets per IP and per API key
  web.py        shared web plumbing: security headers, CSRF, language
  pages.py      the portal's HTML pages (jinja2, Polish first, English switchable)
  open311/      GeoReport v2: handlers, JSON/XML rendering, the OpenAPI document
  keys.py       API-key administration (list; create/revoke are crm_core's)
  cli.py        `ckm open311 keys create|list|revoke`
  wiring.py     `setup(app, settings, db=, config=)`: mounts /portal/ and /open311/v2/ as
                sub-applications
Photos (type sniffed from bytes, metadata stripped, stored outside the web root) are the
cases' own: crm_core.photos, read by the department workspace too.

Routes. Pages: /portal/ (home), /portal/report (GET form, POST submit → 303 to the private
link), /portal/t/{secret} (tracking link; POST /portal/t/{secret}/answer answers the
department's question), /portal/track (number + code), /portal/kb[?q=],
/portal/kb/{slug}, /portal/call (+ /portal/call/config.json), /portal/media/{case}/{name},
/portal/lang/{pl|en}, /portal/static/... (SIP.js under static/vendor/sip.js/).
API: /open311/v2/services.{json,xml}, services/{code}.{fmt}, requests.{fmt} (GET, POST),
requests/{id}.{fmt} (`extensions=true`: extended_attributes.detailed_status, the case's own
status), tokens/{token}.{fmt}, openapi.json. A service_request_id is the case
number with dashes (19115-2026-000123); the POST's token is the resident's tracking secret.

Settings: ckm.toml `[extra.portal]` overrides any PortalConfig field, e.g.
  max_photo_bytes = 5242880, ip_requests_per_min = 300, ip_submissions_per_min = 10,
  webcall_ws_url = "wss://19115.example/ws"   (what browsers outside the machine must reach)
API keys: `ckm open311 keys create --owner NAME [--rate N] | list [--all] | revoke PREFIX`.

Every database call runs in a worker thread: the portal shares the event loop with live calls.
"""
