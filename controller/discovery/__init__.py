"""Network discovery: what the network itself says about the district's computers.

- :mod:`.snmp`: the SNMP client (v2c, v3 authPriv), the only module that imports pysnmp, so a
  faster binding could replace it behind the same functions.
- :mod:`.profiles`: device profiles (YAML, in ``profiles/``): which scalars and table columns to
  ask a device for, and what they mean.
- :mod:`.credentials`: SNMP secrets from the data directory (0600) or the environment.
- :mod:`.poller`: one round over many devices with a concurrency limit and per-device timeouts;
  gives :class:`.results.DeviceResult` values.
- :mod:`.results`: the typed results of a poll, the contract between the poller and the store.
- :mod:`.ssh`: agentless collection over SSH, the only module that imports paramiko.
"""
