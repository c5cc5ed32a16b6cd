"""What the portal's handlers share: the CRM database, settings, the service catalog, photos,
rate limits and templates. One instance per running center, kept under an AppKey."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import jinja2
from aiohttp import web

from crm_core.db import Database
from crm_core.photos import MediaStore
from portal import tracking
from portal.catalog import Catalog, build_catalog
from portal.config import PortalConfig
from portal.fields import WARSAW
from portal.ratelimit import RateLimiter

HERE = Path(__file__).resolve().parent
T = TypeVar("T")
CATALOG_TTL_S = 300.0


@dataclass
class Portal:
    db: Database
    config: PortalConfig
    media: MediaStore
    limiter: RateLimiter = field(default_factory=RateLimiter)
    catalog: Catalog = field(default_factory=lambda: Catalog(()))
    catalog_at: float = -1e9
    templates: jinja2.Environment = field(
        default_factory=lambda: jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    )

    def __post_init__(self) -> None:
        # Residents read times in Warsaw's clock, not the database's UTC.
        self.templates.filters["local"] = lambda at: at.astimezone(WARSAW).strftime("%Y-%m-%d %H:%M")

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Blocking CRM work off the event loop, which also carries live calls."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def services(self) -> Catalog:
        # Categories change rarely (an admin edits them); a few minutes' staleness is fine.
        if time.monotonic() - self.catalog_at > CATALOG_TTL_S or not self.catalog.services:
            rows = await self.run(tracking.list_categories, self.db)
            self.catalog = build_catalog(rows)
            self.catalog_at = time.monotonic()
        return self.catalog


PORTAL = web.AppKey("portal.state", Portal)
