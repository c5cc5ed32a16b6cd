"""Which city department a report goes to.

Most specific rule wins: (subcategory, district), (subcategory, anywhere), (category, district),
(category, anywhere). A district office handles e.g. greenery in its own district while the city
unit handles it elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_core.db import Database
from crm_core.errors import NotFound, ValidationError
from crm_core.models import Category, Department, RoutingRule


@dataclass(frozen=True)
class DepartmentView:
    id: int
    code: str
    name: str
    kind: str
    district: str | None
    email: str | None


def department_view(d: Department) -> DepartmentView:
    return DepartmentView(d.id, d.code, d.name, d.kind, d.district, d.email)


def find_category(session: Session, code: str, field: str = "category") -> Category:
    category = session.scalar(sa.select(Category).where(Category.code == code, Category.is_active))
    if category is None:
        raise ValidationError({field: f"unknown category {code!r}"})
    return category


def route(session: Session, category: Category, district: str | None) -> Department | None:
    chain = [category.id] + ([category.parent_id] if category.parent_id is not None else [])
    rules: list[tuple[int, str | None, Department]] = [
        (r[0], r[1], r[2])
        for r in session.execute(
            sa.select(RoutingRule.category_id, RoutingRule.district, Department)
            .join(Department, Department.id == RoutingRule.department_id)
            .where(
                RoutingRule.category_id.in_(chain),
                sa.or_(RoutingRule.district.is_(None), RoutingRule.district == district),
                Department.is_active,
            )
        )
    ]

    def rank(row: tuple[int, str | None, Department]) -> tuple[int, int]:
        return (chain.index(row[0]), 0 if row[1] is not None else 1)

    return min(rules, key=rank)[2] if rules else None


def route_case(db: Database, category: str, district: str | None = None) -> DepartmentView:
    """The department a report of `category` (a category or subcategory code) in `district`
    goes to; ValidationError for an unknown category, NotFound when no rule covers it."""
    with db.reading() as session:
        found = route(session, find_category(session, category), district)
        if found is None:
            raise NotFound("routing rule", (category, district))
        return department_view(found)


def list_departments(db: Database) -> list[DepartmentView]:
    with db.reading() as session:
        rows = session.scalars(sa.select(Department).order_by(Department.name)).all()
        return [department_view(d) for d in rows]


@dataclass(frozen=True)
class CategoryView:
    code: str
    name: str
    parent: str | None


def list_categories(db: Database) -> list[CategoryView]:
    parent = sa.orm.aliased(Category)
    with db.reading() as session:
        rows = session.execute(
            sa.select(Category.code, Category.name, parent.code)
            .outerjoin(parent, parent.id == Category.parent_id)
            .where(Category.is_active)
            .order_by(
                sa.func.coalesce(parent.code, Category.code), Category.parent_id.is_not(None), Category.name
            )
        ).all()
        return [CategoryView(*r) for r in rows]
