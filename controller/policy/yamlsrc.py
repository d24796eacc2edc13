"""YAML with line numbers: ``yaml.safe_load`` semantics, plus where each node came from.

Policy authors need errors that point at a line (``packs/attt.yaml:42: rule ATTT-05: ...``), so
the loader keeps the line of every mapping, key and list item. :class:`LineLoader` is a
``SafeLoader`` subclass: it accepts exactly the documents ``yaml.safe_load`` accepts and builds the
same values, only as :class:`LineDict` / :class:`LineList` (``dict`` / ``list`` subclasses) that
also know their lines. Line numbers are 1-based.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class LineDict(dict[Any, Any]):
    """A mapping that knows its own line and the line of each key."""

    line: int = 0
    key_lines: dict[Any, int]

    def line_of(self, key: object) -> int:
        """The line of ``key`` (the mapping's own line when the key is absent)."""
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    """A sequence that knows its own line and the line of each item."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        """The line of item ``index``."""
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


#: libyaml's parser when PyYAML has it (6× faster on the 429-asset example organisation file,
#: with the same line numbers); the constructors are SafeLoader's either way.
_SafeBase: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LineLoader(_SafeBase):  # type: ignore[valid-type,misc]
    """``yaml.SafeLoader`` that builds :class:`LineDict` and :class:`LineList`."""


def _construct_mapping(loader: LineLoader, node: yaml.MappingNode) -> LineDict:
    # flatten_mapping resolves YAML merge keys (<<) exactly as SafeLoader does.
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError as exc:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                "found an unhashable key",
                key_node.start_mark,
            ) from exc
        if key in result:
            # safe_load silently keeps the last duplicate; in a policy that hides a mistake.
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: LineLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


def _construct_timestamp(loader: LineLoader, node: yaml.ScalarNode) -> Any:
    # SafeLoader lets datetime's ValueError out for an impossible date (2024-02-30): turn it
    # into a YAML error with the line, like any other bad value.
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"{node.value!r} is not a valid date: {exc}", node.start_mark
        ) from exc


LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


class YamlError(Exception):
    """A file that cannot be read or parsed; the message is ``FILE:LINE: what``."""


def load_yaml(path: Path) -> Any:
    """Parse one YAML document from ``path`` keeping line numbers; raises :class:`YamlError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise YamlError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise YamlError(f"{path}: not UTF-8 text: {exc.reason}") from exc
    try:
        return yaml.load(text, Loader=LineLoader)  # noqa: S506 - LineLoader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        raise YamlError(f"{path}:{line}: invalid YAML: {what}") from exc
    except yaml.YAMLError as exc:
        raise YamlError(f"{path}: invalid YAML: {exc}") from exc
