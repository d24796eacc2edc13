"""The dashboard's pages, one module per page or group of pages (see docs/dashboard.md)."""
