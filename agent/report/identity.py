"""Who the computer is: the keys the controller joins reports, switches and assets on."""

from __future__ import annotations

from typing import Annotated

from agent.report._base import Meta, Section


class Identity(Section, kw_only=True):
    """Identity of the computer."""

    hostname: Annotated[str, Meta(description="Host name as the OS reports it (not FQDN).")]
    fqdn: Annotated[str | None, Meta(description="Fully qualified domain name, if any.")] = None
    machine_id: Annotated[
        str | None,
        Meta(
            description=(
                "Stable OS installation id: /etc/machine-id on Linux, "
                "HKLM\\SOFTWARE\\Microsoft\\Cryptography MachineGuid on Windows."
            )
        ),
    ] = None
    system_uuid: Annotated[
        str | None, Meta(description="SMBIOS system UUID (survives OS reinstalls).")
    ] = None
    system_serial: Annotated[
        str | None, Meta(description="SMBIOS system serial number (asset tag key).")
    ] = None
    macs: Annotated[
        list[str],
        Meta(
            description=(
                "MAC addresses of physical network interfaces, lower case, colon separated, "
                "sorted; used to find this computer in switch MAC tables."
            )
        ),
    ] = []
