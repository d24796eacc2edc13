"""Report bundles carried on USB from offline (classified) computers: read, verify, store.

The format is :mod:`agent.bundle`'s; the officer's steps are in docs/bundles.md.
"""

from controller.bundles.read import BundleLimits, BundleRefused, Members, read_bundle
from controller.bundles.store import Imported, import_bundle, quarantine
from controller.bundles.verify import Verified, verify_bundle

__all__ = [
    "BundleLimits",
    "BundleRefused",
    "Imported",
    "Members",
    "Verified",
    "import_bundle",
    "quarantine",
    "read_bundle",
    "verify_bundle",
]
