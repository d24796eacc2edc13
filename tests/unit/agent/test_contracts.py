"""Contract tests over everything registered: collectors and the two platform implementations."""

from __future__ import annotations

import importlib
import inspect
import typing
from typing import Any

import pytest

from agent.collectors import COLLECTORS
from agent.collectors.base import Collector
from agent.platform import AREAS
from agent.report import SECTION_NAMES, Report


def test_every_section_has_exactly_one_collector() -> None:
    assert sorted(c.name for c in COLLECTORS) == sorted(SECTION_NAMES)


@pytest.mark.parametrize("collector", COLLECTORS, ids=lambda c: c.name)
def test_collector_declares_the_section_it_fills(collector: type[Collector[Any]]) -> None:
    # get_type_hints resolves the postponed annotations and strips Annotated[...].
    field = typing.get_type_hints(Report)[collector.name]
    assert collector.section in typing.get_args(field), (
        f"{collector.__name__}.section is not the type of Report.{collector.name}"
    )
    assert collector.__doc__, f"{collector.__name__} has no docstring"


def _public_functions(module_name: str) -> set[str]:
    """Public fact functions of an area module, including those it re-exports from the same OS
    package (an area may be split into private submodules), excluding imported helpers."""
    module = importlib.import_module(module_name)
    os_package = module_name.rsplit(".", 1)[0]
    return {
        name
        for name, obj in vars(module).items()
        if inspect.isfunction(obj)
        and not name.startswith("_")
        and obj.__module__.startswith(os_package)
        and not obj.__module__.rsplit(".", 1)[-1].startswith("_common")
    }


@pytest.mark.parametrize("area", AREAS)
def test_linux_and_windows_offer_the_same_facts(area: str) -> None:
    linux = _public_functions(f"agent.platform._linux.{area}")
    windows = _public_functions(f"agent.platform._windows.{area}")
    assert linux == windows, (
        f"only on Linux: {sorted(linux - windows)}; only on Windows: {sorted(windows - linux)}"
    )
