"""govguard agent: collects inventory, connectivity and security posture of one computer."""

__version__ = "0.1.0"
