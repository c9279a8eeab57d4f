"""Plain coercion of plain option values, so a command run does not import pydantic.

Typer 0.29 converts every parameter value through a pydantic TypeAdapter, built on first use; importing
pydantic and building those adapters cost more than the rest of `egress plan` together. egress's options are
plain `str`, `int`, `bool` and `list[str]`, whose conversion from command-line text is trivial: this module
does exactly that for values it is sure about (a str, an all-ASCII-digit int, a tuple of str) and hands
anything else (bad numbers, enums, paths, bytes) to Typer's own converter, so results and error messages
stay Typer's. Typer versions without this machinery (no `_runtime_param`) are left alone.
"""

from __future__ import annotations

import re
from typing import Any

try:  # typer >= 0.29; older versions convert through click types and need none of this
    from typer._coercion import RuntimeParam, build_runtime_param
except ImportError:  # pragma: no cover - depends on the installed Typer
    RuntimeParam = None  # type: ignore[assignment,misc]

_INT = re.compile(r"-?[0-9]{1,18}")  # what int() and pydantic agree on, without signs, blanks or `_`
_PLAIN = (str, int, bool, list[str])

if RuntimeParam is not None:

    class PlainParam(RuntimeParam):  # type: ignore[misc,valid-type]
        """Converts plain values itself; asks Typer's converter about everything else.

        RuntimeParam's fields (parameter_info, annotation) and constructor are inherited as they are.
        """

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            annotation = self.annotation
            kind = type(value)
            if annotation is str and kind is str:
                return value
            if annotation is int:
                if kind is int:
                    return value
                if kind is str and _INT.fullmatch(value):
                    return int(value)
            elif annotation is bool and kind is bool:
                return value
            elif annotation == list[str] and kind in (list, tuple) and all(type(v) is str for v in value):
                return list(value)
            full = build_runtime_param(param.type_descriptor)
            param._runtime_param = full
            return full._coerce_value(value, param=param, ctx=ctx)


def install(command: Any, help_names: list[str] | None = None) -> None:
    """Give every plain parameter of `command` and its subcommands the plain converter.

    `help_names`: the root's help option names, which subcommands inherit; the help option is made on demand
    per command, so it is made here (with the same names, as Typer would) to get the plain converter too.
    """
    if RuntimeParam is None:  # pragma: no cover
        return
    own = (getattr(command, "context_settings", None) or {}).get("help_option_names")
    help_names = own or help_names or ["--help"]  # as click's Context: its own setting, else the parent's
    params = list(getattr(command, "params", ()))
    if hasattr(command, "get_help_option") and hasattr(command, "context_class"):
        help_option = command.get_help_option(command.context_class(command, help_option_names=help_names))
        if help_option is not None:
            params.append(help_option)
    for param in params:
        _plain(param)
    for sub in getattr(command, "commands", {}).values():
        install(sub, help_names)


def _plain(param: Any) -> None:
    desc = getattr(param, "type_descriptor", None)
    if desc is None or getattr(param, "_runtime_param", False) is not None:
        return
    info = desc.parameter_info
    if (
        desc.annotation in _PLAIN
        and desc.file_annotation is None
        and getattr(info, "parser", None) is None
        and getattr(info, "min", None) is None
        and getattr(info, "max", None) is None
    ):
        param._runtime_param = PlainParam(parameter_info=info, annotation=desc.annotation)
