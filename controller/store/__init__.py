"""The controller's database: SQLAlchemy models, Alembic migrations and every query.

Nothing outside this package builds SQL. Each module holds the queries of one concept
(``units``, ``users``, ``tokens``, ``agents``, ``reports``, ``audit``); every public function
takes a :class:`sqlalchemy.orm.Session` first and never commits: the caller owns the
transaction. ``db`` makes engines (SQLite or PostgreSQL) and runs the migrations.
"""

from __future__ import annotations
