"""The report definitions; importing this package registers them, in the order offered."""

# The order of these imports is the order the reports are offered: keep isort away from it.
# isort: off
from controller.reports.definitions import egov  # noqa: F401
from controller.reports.definitions import security  # noqa: F401
from controller.reports.definitions import classified  # noqa: F401
from controller.reports.definitions import hardware  # noqa: F401
from controller.reports.definitions import remediation  # noqa: F401

# isort: on
