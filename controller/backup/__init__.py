"""Backup and restore of a controller: its database and its data directory in one archive.

:mod:`controller.backup.create` writes archives, :mod:`controller.backup.restore` reads them
back, :mod:`controller.backup.manifest` is the format both agree on (docs/backup.md).
"""
