"""Fixtures of the browser tests (defined in tests/desktop/live.py, shared with the bench)."""

from tests.desktop.live import browser, crm_template, desk, desk_app, page

__all__ = ["browser", "crm_template", "desk", "desk_app", "page"]
