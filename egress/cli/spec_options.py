"""The rule inputs shared by `plan`, `render` and `apply`: flags over an optional TOML config."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from egress.errors import UsageError

if TYPE_CHECKING:  # imported by the commands that build a spec, not by `egress --help`
    from egress.core.spec import Config, EgressSpec, TargetConfig

OPTION = typer.Option(None, "--option", help="ip-ranges | service-tags | proxy (the seed's options a, b, c).")
REGION = typer.Option(
    None, "--region", help="Azure region of the VMs, e.g. eastus (validated against the data)."
)
TAG = typer.Option(
    None,
    "--tag",
    help="Destination service tag (repeatable). Default: Storage.<Region>, AzureBackup, AzureActiveDirectory.",
)
SOURCE = typer.Option(
    None, "--source", help="Source of the allows: a service tag or prefix. Default: VirtualNetwork."
)
PRIORITY_START = typer.Option(
    None, "--priority-start", help="First priority for the allows (100-4096). Default: 200."
)
DENY_INTERNET = typer.Option(
    None, "--deny-internet/--no-deny-internet", help="Add a Deny Internet rule at 4096 (default: on)."
)
PROXY_IP = typer.Option(None, "--proxy-ip", help="Private IP of the proxy VM (--option proxy).")
PROXY_PORT = typer.Option(None, "--proxy-port", help="Proxy port (default 3128).")
MAX_PREFIXES = typer.Option(
    None, "--max-prefixes", help="ip-ranges: cap destination prefixes; over-approximate optimally to fit."
)
RULE_PREFIX = typer.Option(
    None, "--rule-prefix", help="Name prefix marking egress's own rules (default egress-)."
)
EXPAND_UNUSABLE = typer.Option(
    None,
    "--expand-unusable/--no-expand-unusable",
    help="service-tags: expand tags Azure rejects in NSGs (e.g. AzureBackup.EastUS) to their IP ranges.",
)
FOR_NSG = typer.Option(
    None, "--for", help="proxy: the NSG of the protected VMs (vm) or of the proxy's subnet (proxy)."
)
CONFIG = typer.Option(None, "--config", help="TOML file with [defaults] and [[targets]] (flags override it).")
TARGET_NAME = typer.Option(None, "--target-name", help="Use this [[targets]] entry of --config.")
DATA = typer.Option(None, "--data", help="Service-tag file. Default: newest cached, else bundled.")
CLOUD = typer.Option(None, "--cloud", help="public | usgov | china | germany (default public).")


def read_config(path: str) -> Config:
    from egress.core.spec import parse_config

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such config file.") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory; --config takes a TOML file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read config ({exc}).") from None
    return parse_config(text, where=path)


def build_spec(
    config: str | None, target_name: str | None, **flags: Any
) -> tuple[EgressSpec, TargetConfig | None]:
    """Config defaults, then the named target's overrides, then every flag the user actually gave."""
    from egress.core.spec import EgressSpec

    spec = EgressSpec()
    target: TargetConfig | None = None
    if config:
        cfg = read_config(config)
        spec = cfg.defaults
        if target_name:
            target = cfg.target(target_name)
            spec = target.spec
    elif target_name:
        raise UsageError("--target-name needs --config.")
    given = {k: v for k, v in flags.items() if v is not None and v != []}
    if "tags" in given:
        given["tags"] = tuple(given["tags"])
    return replace(spec, **given).validated(), target
