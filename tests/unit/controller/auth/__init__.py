"""Tests of controller.auth (accounts, sessions, login, throttling) on SQLite and PostgreSQL."""
