"""Windows network facts."""
