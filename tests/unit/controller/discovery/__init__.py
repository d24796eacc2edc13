"""Tests of controller.discovery (SNMP credentials, profiles, decoding)."""
