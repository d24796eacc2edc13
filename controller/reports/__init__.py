"""Compliance reports: definitions that compute a typed result over a unit subtree and a period,
the document each result is laid out as, and the renderers (HTML, PDF, XLSX, CSV) that draw it.

- :mod:`controller.reports.period` parses ``2026``, ``2026-Q4``, ``2026-11`` into periods.
- :mod:`controller.reports.document` is the layout every renderer draws: sections of tables,
  key figures and charts, with texts in Vietnamese and English (:class:`~.document.T`).
- :mod:`controller.reports.base` holds what a definition is given (:class:`~.base.ReportContext`)
  and what it must provide (:class:`~.base.ReportDefinition`).
- :mod:`controller.reports.registry` maps report names (``egov``, ``security``, ``classified``,
  ``hardware``, ``remediation``) to definitions.
"""
