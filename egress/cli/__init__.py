"""The Typer layer: parse options, call the core, print, map errors to exit codes.

Nothing here computes rules or talks to Azure directly; commands live in one module each.
"""

from __future__ import annotations

import copy
import gc
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from egress import __version__
from egress.errors import EgressError, ExitCode

# Click's UsageError (Typer bundles Click privately; BadParameter is its public subclass).
_ClickUsageError: type[Exception] = typer.BadParameter.__mro__[1]


class _EgressGroup(TyperGroup):
    """Turns every EgressError (and a sub-command's usage error) into one `Error: ...` line and its exit code."""

    def list_commands(self, ctx: Any) -> list[str]:
        # Help lists commands in COMMANDS order, whichever order their modules were imported in.
        order = {name: i for i, name in enumerate(COMMANDS)}
        return sorted(super().list_commands(ctx), key=lambda name: order.get(name, len(order)))

    def main(self, *args: Any, **kwargs: Any) -> Any:
        from egress.cli.coerce import install

        install(self)  # plain option values without pydantic (see coerce.py)
        return super().main(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except EgressError as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(int(exc.exit_code)) from None
        except _ClickUsageError as exc:
            if (
                type(exc).__name__ == "NoArgsIsHelpError"
            ):  # `egress ranges` alone: its help, as `egress` alone
                exc.show()
                raise typer.Exit(int(ExitCode.USAGE)) from None
            sub = getattr(exc, "ctx", None)
            where = sub.command_path if sub is not None else "egress"
            message = " ".join(exc.format_message().split()).rstrip(".")  # type: ignore[attr-defined]
            typer.echo(f"Error: {message} (see `{where} --help`).", err=True)
            raise typer.Exit(int(ExitCode.USAGE)) from None


_app = typer.Typer(
    cls=_EgressGroup,
    name="egress",
    help="Give Azure Backup a safe, minimal way out of a locked-down NSG.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_show_locals=False,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"egress {__version__}")
        raise typer.Exit(0)


@_app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Give Azure Backup a safe, minimal way out of a locked-down NSG."""


# Each command (or group) lives in its own module, which attaches it to `app` when imported; this table names
# that module, in the order help lists the commands. A run imports only the module of the command it names.
COMMANDS: dict[str, str] = {  # in the order of the workflow, which is how `egress --help` lists them
    "ranges": "egress.cli.ranges",
    "plan": "egress.cli.plan",
    "render": "egress.cli.render",
    "apply": "egress.cli.apply",
    "verify": "egress.cli.verify",
    "lint": "egress.cli.verify",
    "path": "egress.cli.path",
    "refresh": "egress.cli.refresh",
    "schedule": "egress.cli.schedule",
    "proxy": "egress.cli.proxy",
}
_importing = 0  # > 0 while _load imports command modules


def _load(modules: list[str]) -> None:
    global _importing
    _importing += 1
    try:
        for module in modules:
            __import__(module)  # (not importlib.import_module: -X importtime reports only this way)
    finally:
        _importing -= 1


def _full_app() -> typer.Typer:
    """The app with every command registered."""
    _load(list(dict.fromkeys(COMMANDS.values())))
    globals()["app"] = _app  # `egress.cli.app` is found directly from now on
    return _app


def __getattr__(name: str) -> typer.Typer:
    """`egress.cli.app`, loaded on first use: the app with every command registered."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # A command module's own `from egress.cli import app`, while `_load` imports it, needs only the object.
    return _app if _importing else _full_app()


def _app_for(argv: list[str]) -> typer.Typer:
    """The app cut down to the one command or group named first in `argv`, when there is one.

    Only that command's module is imported, and Typer turns only it into a click command (signatures, type
    hints, options). Anything else — no command, an option first, an unknown name — gets the whole app, so
    help, `--version` and "No such command" answers are unchanged.
    """
    name = argv[0] if argv and not argv[0].startswith("-") else None
    if name not in COMMANDS:
        return _full_app()
    _load([COMMANDS[name]])
    commands = [c for c in _app.registered_commands if c.name is not None and c.name == name]
    groups = [g for g in _app.registered_groups if g.name is not None and g.name == name]
    if len(commands) + len(groups) != 1:
        return _full_app()
    slim = copy.copy(_app)  # shallow: same settings and callback, its own lists
    slim.registered_commands = commands
    slim.registered_groups = groups
    return slim


def main() -> None:
    from egress.cli import common

    common.ONE_SHOT = True
    try:
        _app_for(sys.argv[1:])(prog_name="egress")
    except KeyboardInterrupt:
        typer.echo("Error: interrupted.", err=True)
        sys.exit(int(ExitCode.ERROR))
    finally:
        # The process ends here. Interpreter shutdown runs cycle collections over every object still tracked
        # (~20k: modules, functions, classes), a tenth of a short run's time; frozen objects are skipped.
        # Files and connections are closed by the code that opened them, not left to the collector.
        gc.freeze()
