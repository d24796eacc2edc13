"""Alembic migrations of the controller's database, run by ``controller.store.db.upgrade``."""
