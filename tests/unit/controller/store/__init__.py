"""Tests of controller.store on SQLite and PostgreSQL."""
