"""The reads behind the compliance reports (``controller/reports/definitions``), one module per
report. Each reads a unit subtree in a handful of grouped queries, whatever the fleet size, and
returns plain per-unit counts; the report definitions turn them into metrics and documents.
"""
