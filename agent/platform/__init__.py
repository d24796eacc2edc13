"""OS-specific fact functions, chosen once at import (psutil's pattern).

``agent.platform.hardware.disks()`` means the Linux or the Windows implementation, whichever this
computer runs. Both packages expose the same area modules with the same public functions (a
contract test checks it). Each function returns report records or raises
:class:`agent.errors.FactUnavailable`.

The platform code is a package per OS with one module per area, not one ``_linux.py`` file, so
that no module grows past a few hundred lines and each area can be read on its own.
"""

import sys

if sys.platform == "win32":
    from agent.platform._windows import (
        hardware,
        identity,
        network,
        os_info,
        peripherals,
        security,
        software,
    )

    NAME = "windows"
else:
    from agent.platform._linux import (
        hardware,
        identity,
        network,
        os_info,
        peripherals,
        security,
        software,
    )

    NAME = "linux"

AREAS = ("identity", "hardware", "os_info", "software", "network", "security", "peripherals")

__all__ = [
    "AREAS",
    "NAME",
    "hardware",
    "identity",
    "network",
    "os_info",
    "peripherals",
    "security",
    "software",
]
