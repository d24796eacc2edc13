"""Report schedules, the archive and report e-mails."""
