"""Fixtures of the browser tests (defined in tests/desktop/live.py, shared with the bench)."""

from tests.desktop.live import browser, desk, page

__all__ = ["browser", "desk", "page"]
