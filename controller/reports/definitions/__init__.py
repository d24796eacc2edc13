"""The report definitions; importing this package registers them, in the order offered."""

from controller.reports.definitions import egov  # noqa: F401
