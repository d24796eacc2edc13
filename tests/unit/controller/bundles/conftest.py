"""Fixtures of the bundle tests: a data directory made by `govguard init`."""

from tests.unit.controller.test_cli_admin import data_dir

__all__ = ["data_dir"]
