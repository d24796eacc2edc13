"""The report definitions; importing this package registers them, in the order offered."""
