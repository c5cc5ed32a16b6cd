"""City departments, report categories and the rules that route a category to a department."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_core.models.base import Base


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(30))  # city_unit | district_office | ...
    district: Mapped[str | None] = mapped_column(sa.String(60))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    phone: Mapped[str | None] = mapped_column(sa.String(16))
    is_active: Mapped[bool] = mapped_column(default=True)
    # Whether the department's staff see the resident's name, phone and e-mail on a case card
    # (migration 0005); without it they see the report, the place and the answers only.
    share_resident_contact: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # How the department receives its cases besides /dept (migration 0006,
    # crm_core.forwarding): "none", "open311" (POSTed to its own GeoReport v2 server at
    # forward_target with forward_api_key, service codes mapped by forward_service_codes,
    # "ours=theirs,…") or "email" (a structured message to the address forward_target).
    forward_channel: Mapped[str] = mapped_column(sa.String(8), default="none", server_default="none")
    forward_target: Mapped[str | None] = mapped_column(sa.String(500))
    forward_api_key: Mapped[str | None] = mapped_column(sa.String(200))
    forward_service_codes: Mapped[str | None] = mapped_column(sa.Text)


class Category(Base):
    """A report category; subcategories point at their parent (one level deep)."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(60), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("categories.id"), index=True)
    is_active: Mapped[bool] = mapped_column(default=True)

    parent: Mapped[Category | None] = relationship(remote_side="Category.id")


class RoutingRule(Base):
    """category → department; a rule with a district overrides the city-wide one (district NULL).
    A rule on a subcategory overrides one on its parent."""

    __tablename__ = "routing_rules"
    __table_args__ = (sa.UniqueConstraint("category_id", "district", name="uq_routing_rule"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(sa.ForeignKey("categories.id"), index=True)
    district: Mapped[str | None] = mapped_column(sa.String(60))
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("departments.id"))

    department: Mapped[Department] = relationship()
