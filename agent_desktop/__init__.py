"""agent_desktop: the browser application of consultants, supervisors and IVR authors.

Layout
------
wiring.py      setup(app, center): what it reads from and adds to center.services; routes.
security.py    crm_core web sessions as the cookie, role gates, CSRF (HMAC of the session),
               CSP and hardening headers, the same-origin + CSRF check of the CTI socket.
pages.py       login/logout, language, the three pages (server-rendered, Polish first).
admin.py       the admin pages: accounts, roles, passwords, queue memberships, skills.
login_guard.py login throttle per account and address; password checks capped, off the loop.
desk_api.py    JSON for the desk: softphone credentials, routing preview, nearby cases, case
               creation, wrap-up into the CRM, KB, callbacks; today's chart for the wallboard.
ivr_api.py     JSON for the IVR editor: validate, simulate, diff, publish, roll back.
ivr_editor.py  ScriptBook (files + CRM versions, publish into the running ScriptLibrary),
               the menu graph, simulation and diff.
crm.py         crm_core calls off the event loop, as JSON-ready data.
today.py       today's calls per 15 minutes and service level, fed by the domain-event bus.
i18n.py        UI text (pl, en), for templates and JS alike.
templates/     jinja2, autoescaped; static/ small ES modules (no build) and one stylesheet.

Live data reaches the pages only over the CTI websocket (cti.hub at /cti/ws): snapshot, then
events; call control goes back over it as commands. Caller data is put into the DOM as text
(textContent), never as markup.
"""
