"""Linux implementations of the platform fact functions, one module per area."""
