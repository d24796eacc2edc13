"""Data shipped with the agent (end-of-life table, product and tool patterns, CA markers).

Each file is YAML read with ``yaml.safe_load``; operators extend the lists in the agent config
instead of editing these files.
"""

from functools import cache
from importlib import resources
from typing import Any

import yaml


@cache
def load(name: str) -> Any:
    """Parse ``agent/data/<name>.yaml`` once and return its content."""
    text = resources.files(__package__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)
