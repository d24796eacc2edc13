"""docs/configuration.md, generated from the settings models (``make config-docs``).

The msgspec structs of ``controller.settings`` (the controller's ``config.yaml``) and
``agent.config`` (the agent's ``--config`` file) are the only truth about what a key may hold:
its type, default and bounds come from ``msgspec.inspect``; its description from the ``#:``
comment lines right above the field in the source (Sphinx's convention; msgspec keeps no
comments, so the source is parsed with ``ast``). A struct's docstring introduces its section,
and describes a field of that struct type that has no comment of its own.

    python -m controller.config_reference            # write docs/configuration.md
    python -m controller.config_reference --check    # exit 1 when it is out of date
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import sys
import textwrap
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi
import yaml

from agent.config import AgentConfig, ProbeConfig
from controller.settings import ControllerConfig

OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
COMMAND = "make config-docs"


@dataclass(frozen=True)
class Key:
    """One documented key: a row of a table."""

    path: str
    type: str
    default: str
    constraints: str
    description: str


@dataclass(frozen=True)
class Section:
    """A top-level block of a config file and its keys."""

    title: str
    intro: str
    keys: list[Key]
    checks: list[str]


def field_comments(cls: type) -> dict[str, str]:
    """The description of each field of ``cls``: the ``#:`` comment lines right above it."""
    lines, _ = inspect.getsourcelines(cls)
    source = textwrap.dedent("".join(lines))
    text = source.splitlines()
    node = ast.parse(source).body[0]
    if not isinstance(node, ast.ClassDef):
        raise TypeError(f"{cls!r} is not a class")
    comments: dict[str, str] = {}
    for item in node.body:
        if not (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)):
            continue
        above: list[str] = []
        row = item.lineno - 2  # 0-based index of the line above the field
        while row >= 0 and text[row].strip().startswith("#:"):
            above.insert(0, text[row].strip()[2:].strip())
            row -= 1
        if above:
            comments[item.target.id] = " ".join(above)
    return comments


def post_init_checks(cls: type) -> list[str]:
    """The ``ValueError`` messages of ``cls.__post_init__``, placeholders shown as ``…``."""
    method = cls.__dict__.get("__post_init__")
    if method is None:
        return []
    tree = ast.parse(textwrap.dedent(inspect.getsource(method)))
    found: list[str] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
            continue
        call = node.exc
        if not (isinstance(call.func, ast.Name) and call.func.id == "ValueError" and call.args):
            continue
        message = _literal_text(call.args[0])
        # A message that is mostly placeholders (``f"{where}: {exc}"``) says nothing here.
        if message is not None and sum(c.isalpha() for c in message) >= 15:
            found.append(message)
    return found


def _literal_text(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = [
            part.value if isinstance(part, ast.Constant) else "…"
            for part in node.values
            if isinstance(part, ast.Constant | ast.FormattedValue)
        ]
        return "".join(str(part) for part in parts)
    return None


def _markdown(text: str) -> str:
    """reST literals to Markdown, table-safe."""
    return text.replace("``", "`").replace("|", "\\|").replace("\n", " ")


def _docstring(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    return _markdown(" ".join(doc.split()))


def _type_name(kind: mi.Type) -> str:
    if isinstance(kind, mi.UnionType):
        names = [_type_name(t) for t in kind.types if not isinstance(t, mi.NoneType)]
        nullable = any(isinstance(t, mi.NoneType) for t in kind.types)
        return " or ".join(names) + (" or null" if nullable else "")
    if isinstance(kind, mi.ListType):
        return f"list of {_type_name(kind.item_type)}"
    if isinstance(kind, mi.DictType):
        return f"mapping of {_type_name(kind.key_type)} to {_type_name(kind.value_type)}"
    if isinstance(kind, mi.CustomType) and issubclass(kind.cls, Path):
        return "path"
    simple: list[tuple[type | types.UnionType, str]] = [
        (mi.IntType, "integer"),
        (mi.FloatType, "number"),
        (mi.BoolType, "boolean"),
        (mi.StrType | mi.LiteralType, "text"),
        (mi.StructType, "mapping"),
    ]
    return next((name for kinds, name in simple if isinstance(kind, kinds)), type(kind).__name__)


def _bounds(kind: mi.Type) -> list[str]:
    if isinstance(kind, mi.IntType | mi.FloatType):
        if kind.ge is not None and kind.le is not None:
            return [f"{kind.ge} to {kind.le}"]
        out: list[str] = []
        if kind.ge is not None or kind.gt is not None:
            out.append(f"≥ {kind.ge}" if kind.ge is not None else f"> {kind.gt}")
        if kind.le is not None or kind.lt is not None:
            out.append(f"≤ {kind.le}" if kind.le is not None else f"< {kind.lt}")
        return out
    if isinstance(kind, mi.StrType):
        out = []
        if kind.min_length is not None or kind.max_length is not None:
            low, high = kind.min_length, kind.max_length
            out.append(
                f"length {low} to {high}" if low is not None and high is not None
                else f"length ≥ {low}" if low is not None else f"length ≤ {high}"
            )  # fmt: skip
        if kind.pattern is not None:
            out.append(f"pattern `{kind.pattern}`")
        return out
    if isinstance(kind, mi.LiteralType):
        return [" or ".join(f"`{value}`" for value in kind.values)]
    return []


def constraints(kind: mi.Type) -> str:
    """Bounds, lengths, patterns and allowed values of a type, in words."""
    out: list[str] = []
    if isinstance(kind, mi.UnionType):
        for member in kind.types:
            out += [constraints(member)] if constraints(member) else []
        return "; ".join(out)
    out += _bounds(kind)
    if isinstance(kind, mi.ListType):
        if kind.min_length is not None:
            out.append(f"at least {kind.min_length} item{'s' if kind.min_length > 1 else ''}")
        if item := constraints(kind.item_type):
            out.append(f"each item: {item}")
    if isinstance(kind, mi.DictType) and (value := constraints(kind.value_type)):
        out.append(f"each value: {value}")
    return _markdown("; ".join(out))


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        try:
            plain = yaml.safe_load(value) == value
        except yaml.YAMLError:
            plain = False
        return value if plain and value else json.dumps(value, ensure_ascii=False)
    return json.dumps(msgspec.to_builtins(value), ensure_ascii=False)


def _human(path: str, value: Any) -> str:
    """A readable equivalent of a large default (900 → 15 min, 1048576 → 1 MiB)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 60:
        return ""
    if path.endswith("_s"):
        for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
            if value % size == 0:
                return f" ({value // size} {unit})"
    if path.endswith("_bytes"):
        for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
            if value % size == 0:
                return f" ({value // size} {unit})"
    return ""


def _default(path: str, field: mi.Field, parent: object | None) -> tuple[object | None, str]:
    """The field's default value (from the parent's default instance when there is one)."""
    if parent is not None:
        value = getattr(parent, field.name)
    elif field.default is not msgspec.NODEFAULT:
        value = field.default
    elif field.default_factory is not msgspec.NODEFAULT:
        value = field.default_factory()
    else:
        return None, "required"
    if isinstance(value, msgspec.Struct):
        return value, "see below"
    return value, f"`{_scalar(value)}`{_human(path, value)}"


def _struct_info(cls: type) -> mi.StructType:
    info = mi.type_info(cls)
    if not isinstance(info, mi.StructType):
        raise TypeError(f"{cls!r} is not a msgspec struct")
    return info


def _struct_of(kind: mi.Type) -> mi.StructType | None:
    """The struct a field holds: directly, as an optional block, or as list items."""
    if isinstance(kind, mi.StructType):
        return kind
    if isinstance(kind, mi.UnionType):
        return next((t for t in kind.types if isinstance(t, mi.StructType)), None)
    if isinstance(kind, mi.ListType) and isinstance(kind.item_type, mi.StructType):
        return kind.item_type
    return None


def _literal_order(annotation: object) -> list[str | int | None]:
    """The values of the first ``Literal`` inside ``annotation``, in the source's order."""
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    for arg in typing.get_args(annotation):
        if found := _literal_order(arg):
            return found
    return []


def _in_source_order(kind: mi.Type, annotation: object) -> mi.Type:
    """``kind`` with a literal's values as the source lists them (msgspec sorts them)."""
    order = _literal_order(annotation)
    if isinstance(kind, mi.LiteralType) and sorted(map(str, order)) == sorted(
        map(str, kind.values)
    ):
        return mi.LiteralType(values=tuple(order))
    return kind


def walk(
    cls: type, prefix: str, parent: object | None, elsewhere: dict[type, str]
) -> Iterator[Key]:
    """Every key below struct ``cls``; structs in ``elsewhere`` link to their section."""
    info = _struct_info(cls)
    comments = field_comments(cls)
    hints = typing.get_type_hints(cls, include_extras=True)
    for field in info.fields:
        path = f"{prefix}{field.encode_name}"
        value, default = _default(path, field, parent)
        field_type = _in_source_order(field.type, hints.get(field.name))
        inner = _struct_of(field.type)
        description = _markdown(comments.get(field.name, ""))
        if inner is not None and not description:
            description = _docstring(inner.cls)
        type_name = _type_name(field_type)
        if inner is not None and inner.cls in elsewhere:
            description = f"{description} Keys: see {elsewhere[inner.cls]}.".strip()
            yield Key(path, type_name, default, constraints(field_type), description)
            continue
        yield Key(path, type_name, default, constraints(field_type), description)
        if inner is not None:
            child_parent = value if isinstance(value, inner.cls) else None
            child_prefix = f"{path}[]." if isinstance(field.type, mi.ListType) else f"{path}."
            yield from walk(inner.cls, child_prefix, child_parent, elsewhere)


def _checks(cls: type, elsewhere: dict[type, str]) -> list[str]:
    """Cross-field checks of ``cls`` and of every struct below it but those of ``elsewhere``."""
    out = [_markdown(message) for message in post_init_checks(cls)]
    info = _struct_info(cls)
    for field in info.fields:
        inner = _struct_of(field.type)
        if inner is not None and inner.cls not in elsewhere:
            out += [check for check in _checks(inner.cls, elsewhere) if check not in out]
    return out


def sections(
    root: type, title: str, elsewhere: dict[type, str], *, skip: tuple[type, ...] = ()
) -> list[Section]:
    """One section for the scalar keys at the top of ``root``, one per struct-valued key."""
    defaults = root()
    info = _struct_info(root)
    top: list[Key] = []
    out: list[Section] = []
    comments = field_comments(root)
    for field in info.fields:
        inner = _struct_of(field.type)
        if inner is None or inner.cls in elsewhere or inner.cls in skip:
            top += [key for key in walk(root, "", defaults, elsewhere) if key.path == field.name]
            continue
        keys = list(
            walk(inner.cls, f"{field.encode_name}.", getattr(defaults, field.name), elsewhere)
        )
        intro = _docstring(inner.cls) or _markdown(comments.get(field.name, ""))
        out.append(Section(f"`{field.encode_name}`", intro, keys, _checks(inner.cls, elsewhere)))
    checks = [_markdown(message) for message in post_init_checks(root)]
    return [Section(title, _docstring(root), top, checks), *out]


_HEADER = f"""\
# Configuration reference

<!-- Generated by `{COMMAND}` (controller/config_reference.py) from the settings models:
     do not edit by hand. A test fails when this file is out of date. -->

This page is **generated** from the models that validate the files (`controller/settings.py`,
`controller/notify/config.py` and `agent/config.py`): every key with its type, default,
allowed values and the description written beside it in the source. Regenerate it with
`{COMMAND}` after changing a model.

- The controller reads `<data dir>/config.yaml` (`govguard init` writes a commented one;
  `govguard config check --data-dir DIR` checks it, then restart `govguard serve` and
  `govguard worker`). The agent reads the file given with `--config FILE`
  (`govguard-agent once|run|export --config FILE`).
- Unknown keys are errors; every mistake is one line naming the file and the key.
- A key path `a.b` is key `b` inside the mapping `a`; `a[].b` is key `b` of each item of the
  list `a`. *required* means the key must be given when its block is; *see below* means the
  default is the block whose keys follow.
- Durations are in the unit their name says (`_s` seconds, `_ms` milliseconds, `_days`...);
  sizes in bytes.
- Secrets are never keys of these files: they come from files under `<data dir>/secrets/`
  (mode 0600) or from environment variables; see [security.md](security.md).
"""

#: Environment variables the controller and the agent read, for the page's last table.
ENVIRONMENT: list[tuple[str, str, str]] = [
    ("GOVGUARD_DATA_DIR", "every `govguard` command",
     "the data directory when `--data-dir` is not given (else `/var/lib/govguard`)"),
    ("GOVGUARD_WORKERS", "`govguard serve`", "processes sharing the listening sockets "
     "(1 to 64, default 1); see [controller.md](controller.md)"),
    ("GOVGUARD_PASSWORD", "`govguard users add`, `users passwd`",
     "the password, when neither `--password-file` nor a terminal is used"),
    ("GOVGUARD_SMTP_PASSWORD", "notifications", "the SMTP password when "
     "`notify.smtp.password_file` is not set (the variable's name is `notify.smtp.password_env`)"),
    ("GOVGUARD_SNMP_<NAME>_<FIELD>", "`govguard worker`, `govguard snmp`",
     "a field of an SNMP credential; see [discovery.md](discovery.md)"),
    ("GOVGUARD_ANSIBLE_<FIELD>", "`govguard worker`, `govguard remediate --wait`",
     "`BECOME_PASSWORD`, `WINRM_USER`, `WINRM_PASSWORD` instead of "
     "`<data dir>/secrets/ansible.yaml`; see [remediation.md](remediation.md)"),
]  # fmt: skip


def _environment() -> list[str]:
    rows = ["## Environment variables", "", "| variable | read by | meaning |", "|---|---|---|"]
    return rows + [f"| `{name}` | {who} | {what} |" for name, who, what in ENVIRONMENT]


def _table(keys: list[Key]) -> list[str]:
    rows = ["| key | type | default | allowed | description |", "|---|---|---|---|---|"]
    for key in keys:
        rows.append(
            f"| `{key.path}` | {key.type} | {key.default} | {key.constraints} | {key.description} |"
        )
    return rows


def _render_sections(heading: str, items: list[Section]) -> list[str]:
    out: list[str] = []
    for section in items:
        out += ["", f"{heading} {section.title}", ""]
        if section.intro:
            out += [section.intro, ""]
        out += _table(section.keys)
        if section.checks:
            out += ["", "Also checked when the file is loaded:", ""]
            out += [f"- {check}" for check in section.checks]
    return out


def render() -> str:
    """The whole of docs/configuration.md."""
    probes_link = "[the agent's `probes`](#probes)"
    controller = sections(ControllerConfig, "Top level", {ProbeConfig: probes_link})
    agent = sections(AgentConfig, "Top level", {})
    lines = [_HEADER.rstrip("\n"), "", "## Controller: `config.yaml`"]
    lines += _render_sections("###", controller)
    lines += ["", "## Agent: the `--config` file", ""]
    lines += [
        "The agent needs no file: every key has a default that suits an office PC. Once the "
        "controller sends `agents.probes`, those probes replace the file's `probes`. "
        "[agent.md](agent.md) has an example for a commune office."
    ]
    lines += _render_sections("###", agent)
    lines += ["", *_environment(), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Write docs/configuration.md, or with ``--check`` say whether it is current."""
    parser = argparse.ArgumentParser(prog="python -m controller.config_reference")
    parser.add_argument("--out", type=Path, default=OUTPUT, help="where to write the page")
    parser.add_argument("--check", action="store_true", help="exit 1 when the page is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date: run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
