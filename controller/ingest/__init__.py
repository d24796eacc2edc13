"""Report ingest: verify the signed envelope, validate the body, store in batches.

The order of the checks is the security design (docs/protocol.md). Everything before the
signature check costs microseconds and touches no attacker-controlled parser: the envelope
header's shape, the body size, the agent's credentials, the body's SHA-256 and the Ed25519
signature. Only a body signed by an enrolled, active agent is decompressed (with a size cap),
scanned for NUL characters and decoded into the typed report model.

The event loop does only the cheap part (envelope shape, body size, credentials from a cache)
and hands the request to one :class:`BatchWriter` thread per process. That thread verifies the
signatures and decodes the bodies of whatever waits, writes up to ``batch_max`` reports in one
transaction and only then answers each request: an agent deletes a report from its outbox only
after it was committed, and thousands of agents each sending one report cost one commit per
batch, not one per report.

Why verification runs in the writer thread and not on the event loop: its expensive steps
release the GIL (Ed25519 verify ~63 µs, SHA-256 and gunzip ~50 µs for a 50 KB report), so on
the writer thread they run on the second core while the event loop parses the next requests.
Measured with ``bench/ingest.py``: see bench/README.md. Only the typed decode (~125 µs for a 55
KB report, msgspec) holds the GIL wherever it runs. More cores are used by more processes
(``GOVGUARD_WORKERS``, :mod:`controller.server`).

Nesting depth is bounded without a scan of our own: the typed decoder follows the schema for
every known field and refuses unknown data nested deeper than the interpreter's recursion limit
(about 1,000 levels) with an error we answer as ``400 bad_json``. A separate bracket scan cost
45 µs per full report (a tenth of the ingest CPU) and protected nothing more.
"""

from controller.ingest.checks import (
    RETRY_AFTER_S,
    IngestError,
    Limits,
    check_sender,
    check_signature,
    clock_skew,
    decode_report,
    gunzip,
    has_nul,
    parse_envelope,
    stamp_time,
    unavailable,
    verify_report,
)
from controller.ingest.credentials import CREDENTIALS_MAX, CREDENTIALS_TTL_S, CredentialCache
from controller.ingest.service import COMMIT_TIMEOUT_S, CommitTimeoutError, Ingest
from controller.ingest.writer import (
    VERIFIERS,
    BatchWriter,
    DatabaseUnavailableError,
    ReportNow,
    WriterBusyError,
    WriterClosedError,
)

__all__ = [
    "COMMIT_TIMEOUT_S",
    "CREDENTIALS_MAX",
    "CREDENTIALS_TTL_S",
    "RETRY_AFTER_S",
    "VERIFIERS",
    "BatchWriter",
    "CommitTimeoutError",
    "CredentialCache",
    "DatabaseUnavailableError",
    "Ingest",
    "IngestError",
    "Limits",
    "ReportNow",
    "WriterBusyError",
    "WriterClosedError",
    "check_sender",
    "check_signature",
    "clock_skew",
    "decode_report",
    "gunzip",
    "has_nul",
    "parse_envelope",
    "stamp_time",
    "unavailable",
    "verify_report",
]
