"""The value names help shows (`--data FILE`), one vocabulary for every command.

Typer's default names a value by its Python type (`<str>`, `<list[str]>`, an argument as `{tag}`), which says
nothing about what to type. A parameter declared without a metavar gets its name here, by flag: one flag means
the same thing, and reads the same, in every command. A choice type's own list (`<text|json>`) loses its angle
brackets. `tests/cli/test_help.py` walks every command's help and holds new options to this.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument

# Flag (or argument name) -> value name. Choices are spelled `a|b`; everything else is an upper-case noun.
BY_FLAG: dict[str, str] = {
    "--allow-from": "PREFIX",
    "--arm-endpoint": "URL",
    "--auth": "METHOD",
    "--client-id": "ID",
    "--cloud": "CLOUD",
    "--concurrency": "N",
    "--config": "FILE",
    "--data": "FILE",
    "--dest": "IP[:PORT]",
    "--dest-tag": "TAG",
    "--direction": "DIRECTION",
    "--egress": "PATH",
    "--every": "weekly|daily|CRON",
    "--expect": "allow|deny",
    "--fqdns": "backup|FILE",
    "--image": "IMAGE",
    "--install": "REQUIREMENT",
    "--kind": "cron|systemd|github-actions|k8s-cronjob",
    "--location": "REGION",
    "--lock-timeout": "SECONDS",
    "--log": "FILE",
    "--max-deletes": "N",
    "--max-shrink": "PERCENT",
    "--name": "NAME",
    "--no-proxy": "ADDRESS",
    "--nsg": "FILE",
    "--nsg-name": "NAME",
    "--out": "DIR",
    "--page-url": "URL",
    "--port": "PORT",
    "--protocol": "PROTOCOL",
    "--proxy": "IP:PORT",
    "--region": "REGION",
    "--resource-group": "NAME",
    "--service": "SERVICE",
    "--source": "PREFIX",
    "--source-port": "PORT",
    "--subscription": "ID",
    "--tag": "TAG",
    "--target": "TARGET",
    "--target-name": "NAME",
    "--user": "USER",
    "--vnet": "PREFIX",
    # arguments
    "addresses": "ADDRESS",
    "new": "NEW",
    "old": "OLD",
    "tag": "TAG",
}
# Where one flag takes different values in different commands: (command, flag) -> value name.
BY_COMMAND: dict[tuple[str, str], str] = {
    ("apply", "--output"): "table|json",
    ("diff", "--tag"): "PATTERN",
    ("fetch", "--source"): "download|api",
    ("lint", "--output"): "text|json",
    ("lint", "--place"): "nsg|route-table|firewall-policy",
    ("verify", "--place"): "nsg|route-table",
    ("plan", "--output"): "table|json",
    ("refresh", "--output"): "text|json|markdown",
    ("verify", "--output"): "text|json",
}


class _NamedArgument(TyperArgument):
    """An argument shown as click shows one (`TAG`, `[NEW]`), not as Typer 0.29 does (`{tag}`, `tag <str>`)."""

    def _usage_display_name(self) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name + ("..." if self.nargs != 1 else "")

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


def name_values(command: Any) -> None:
    """Give every parameter of `command` and its subcommands without a metavar the one above."""
    for param in getattr(command, "params", ()):
        if type(param) is TyperArgument:
            param.__class__ = _NamedArgument  # same fields; only how help spells it differs
        if getattr(param, "is_flag", False) or param.metavar is not None:
            continue
        keys = [o for o in param.opts if o.startswith("--")] or [param.name]
        for key in keys:
            chosen = BY_COMMAND.get((command.name, key)) or BY_FLAG.get(key)
            if chosen:
                param.metavar = chosen
                break
        else:
            choices = getattr(getattr(param, "type_descriptor", None), "choices", None)
            if choices:
                param.metavar = "|".join(str(getattr(c, "value", c)) for c in choices)
    for sub in getattr(command, "commands", {}).values():
        name_values(sub)
