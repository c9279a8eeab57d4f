"""The rule inputs shared by `plan`, `render` and `apply`: flags over an optional TOML config.

They are declared once, here: `@rule_inputs` adds them to a command's signature (so Typer shows and parses them)
and hands the command one `RuleInputs` value instead of sixteen parameters.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from egress.errors import UsageError

if TYPE_CHECKING:  # imported by the commands that build a spec, not by `egress --help`
    from egress.core.spec import Config, EgressSpec, TargetConfig

OPTION = typer.Option(
    None,
    "--option",
    metavar="ip-ranges|service-tags|proxy",
    help="ip-ranges | service-tags | proxy: the three ways of Microsoft's guide \"Prepare your environment to "
    'back up Azure VMs" (default service-tags).',
)
REGION = typer.Option(
    None,
    "--region",
    metavar="REGION",
    help="Azure region of the VMs, e.g. eastus (validated against the data).",
)
TAG = typer.Option(
    None,
    "--tag",
    metavar="TAG",
    help="Destination service tag (repeatable). Default: Storage.<Region>, AzureBackup, AzureActiveDirectory.",
)
SOURCE = typer.Option(
    None,
    "--source",
    metavar="TAG|PREFIX",
    help="Source of the allows: a service tag, a prefix or `*`. Default: VirtualNetwork.",
)
PRIORITY_START = typer.Option(
    None,
    "--priority-start",
    metavar="N",
    help="First priority for the allows (NSG 100-4096; firewall policy group 100-65000). Default: 200.",
)
DENY_INTERNET = typer.Option(
    None, "--deny-internet/--no-deny-internet", help="Add a Deny Internet rule at 4096 (default: on)."
)
PROXY_IP = typer.Option(None, "--proxy-ip", metavar="IP", help="Private IP of the proxy VM (--option proxy).")
PROXY_PORT = typer.Option(None, "--proxy-port", metavar="PORT", help="Proxy port (default 3128).")
PROXY_PORTS = typer.Option(
    None,
    "--proxy-ports",
    metavar="PORTS",
    help="proxy: ports the proxy VM may reach on the Internet, e.g. 80,443 (default 80-443, as the guide; "
    "that range also opens 81-442).",
)
ALLOW_PUBLIC_PROXY_IP = typer.Option(
    None,
    "--allow-public-proxy-ip/--no-allow-public-proxy-ip",
    help="proxy: accept a --proxy-ip outside the private ranges (for a VNet that uses public ranges).",
)
IP_VERSION = typer.Option(
    None,
    "--ip-version",
    metavar="4|6|both",
    help="Address families to allow (default both); 4 for an IPv4-only VNet needs no IPv6 rules.",
)
MAX_PREFIXES = typer.Option(
    None,
    "--max-prefixes",
    metavar="K",
    help="ip-ranges: cap destination prefixes; over-approximate optimally to fit.",
)
MAX_EXTRA = typer.Option(
    None,
    "--max-extra",
    metavar="V4[,V6]",
    help="Most an over-approximation may admit beyond the tags, per family: IPv4 addresses, IPv6 /64s, or /N "
    "for a prefix's worth (default /8,/32).",
)
ALLOW_WIDE = typer.Option(
    None, "--allow-wide/--no-allow-wide", help="Accept an over-approximation beyond --max-extra."
)
RULE_PREFIX = typer.Option(
    None, "--rule-prefix", metavar="PREFIX", help="Name prefix marking egress's own rules (default egress-)."
)
EXPAND_UNUSABLE = typer.Option(
    None,
    "--expand-unusable/--no-expand-unusable",
    help="service-tags: expand tags Azure rejects in NSGs (e.g. AzureBackup.EastUS) to their IP ranges.",
)
FOR_NSG = typer.Option(
    None,
    "--for",
    metavar="vm|proxy",
    help="proxy: the NSG of the protected VMs (vm) or of the proxy's subnet (proxy).",
)
CONFIG = typer.Option(
    None, "--config", metavar="FILE", help="TOML file with [defaults] and [[targets]] (flags override it)."
)
TARGET_NAME = typer.Option(
    None, "--target-name", metavar="NAME", help="Use this [[targets]] entry of --config."
)
DATA = typer.Option(
    None, "--data", metavar="FILE", help="Service-tag file. Default: newest cached, else bundled."
)
CLOUD = typer.Option(
    None,
    "--cloud",
    metavar="CLOUD",
    help="public | usgov | china | germany (default public).",
)
PLACE = typer.Option(
    None,
    "--place",
    metavar="nsg|route-table|firewall-policy",
    help="Where the rules go: nsg (default), route-table (UDRs) or firewall-policy (a rule collection group).",
)
NEXT_HOP = typer.Option(
    None,
    "--next-hop",
    metavar="Internet|VirtualAppliance",
    help="route-table: next hop of egress's routes (default Internet).",
)
NEXT_HOP_IP = typer.Option(
    None, "--next-hop-ip", metavar="IP", help="route-table: the appliance's IP (--next-hop VirtualAppliance)."
)
VNET = typer.Option(
    None,
    "--vnet",
    metavar="PREFIX",
    help="firewall-policy: the VNet's address prefixes (repeatable; the rules' default sources).",
)
FIREWALL_IP = typer.Option(
    None, "--firewall-ip", metavar="IP", help="firewall-policy: the firewall's private IP (inside --vnet)."
)
RCG_NAME = typer.Option(
    None,
    "--rcg-name",
    metavar="NAME",
    help="firewall-policy: the rule collection group's name (default egress-backup).",
)


MAX_CONFIG_BYTES = 1024 * 1024  # a fleet of a thousand targets is ~200 KB


def read_config(path: str) -> Config:
    from egress.core.spec import parse_config

    if not path.strip():
        raise UsageError("--config is empty: give the path of a TOML file.")
    p = Path(path)
    try:
        with p.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)  # bounded: /dev/zero must not hang us
    except FileNotFoundError:
        raise UsageError(f"{path}: no such config file.") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory; --config takes a TOML file.") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read config ({exc.strerror or exc}).") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise UsageError(f"{path}: over {MAX_CONFIG_BYTES} bytes; that is not an egress config.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text; --config takes a TOML file.") from None
    return parse_config(text, where=path)


def build_spec(
    config: str | None, target_name: str | None, **flags: Any
) -> tuple[EgressSpec, TargetConfig | None]:
    """Config defaults, then the named target's overrides, then every flag the user actually gave."""
    from egress.core.spec import EgressSpec

    spec = EgressSpec()
    target: TargetConfig | None = None
    if target_name is not None and not target_name.strip():
        raise UsageError("--target-name is empty: give the name of a [[targets]] entry.")
    if config is not None:
        cfg = read_config(config)
        spec = cfg.defaults
        if target_name:
            target = cfg.target(target_name)
            spec = target.spec
    elif target_name:
        raise UsageError("--target-name needs --config.")
    given = {k: v for k, v in flags.items() if v is not None and v != []}
    for key in ("tags", "proxy_ports", "vnet"):
        if key in given:
            given[key] = tuple(given[key])
    merged = replace(spec, **given).validated()
    from egress.places import get_place

    place = get_place(merged.place)
    if place.checks_nsg_flags:
        _check_flags_apply(merged, given)
    place.check_spec(merged, given)
    return merged, target


def _check_flags_apply(spec: EgressSpec, given: dict[str, Any]) -> None:
    """A flag the chosen option would silently ignore is a mistake worth saying out loud."""
    if spec.option != "proxy":
        for name, flag in (
            ("proxy_ip", "--proxy-ip"),
            ("proxy_port", "--proxy-port"),
            ("for_nsg", "--for"),
            ("proxy_ports", "--proxy-ports"),
            ("allow_public_proxy_ip", "--allow-public-proxy-ip"),
        ):
            if name in given:
                raise UsageError(f"{flag} applies to --option proxy only (the option here is {spec.option}).")
    if "max_prefixes" in given and spec.option == "proxy":
        raise UsageError(
            "--max-prefixes applies to --option ip-ranges (or service-tags with --expand-unusable)."
        )
    if "max_prefixes" in given and spec.option == "service-tags" and not spec.expand_unusable:
        raise UsageError(
            "--max-prefixes applies to --option ip-ranges (or service-tags with --expand-unusable)."
        )


@dataclass(frozen=True, slots=True)
class RuleInputs:
    """The rule options as typed on the command line (None: not given, so the config or the default applies)."""

    option: str | None = None
    region: str | None = None
    tag: list[str] | None = None
    source: str | None = None
    priority_start: int | None = None
    deny_internet: bool | None = None
    proxy_ip: str | None = None
    proxy_port: int | None = None
    max_prefixes: int | None = None
    rule_prefix: str | None = None
    expand_unusable: bool | None = None
    for_nsg: str | None = None
    config: str | None = None
    target_name: str | None = None
    data: str | None = None
    cloud: str | None = None
    proxy_ports: list[str] | None = None
    ip_version: str | None = None
    allow_public_proxy_ip: bool | None = None
    max_extra: str | None = None
    allow_wide: bool | None = None
    place: str | None = None
    next_hop: str | None = None
    next_hop_ip: str | None = None
    vnet: list[str] | None = None
    firewall_ip: str | None = None
    rcg_name: str | None = None

    def spec(self) -> tuple[EgressSpec, TargetConfig | None]:
        flags = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("config", "target_name", "tag", "proxy_ports", "max_extra")
        }
        ports = None
        if self.proxy_ports:
            from egress.core.inputs import split_ports

            ports = split_ports(self.proxy_ports)
        if self.max_extra is not None:
            from egress.cli.extra import parse_max_extra

            flags["max_extra_v4"], flags["max_extra_v6"] = parse_max_extra(self.max_extra)
        return build_spec(self.config, self.target_name, tags=self.tag, proxy_ports=ports, **flags)


_DECLARATIONS: dict[str, tuple[Any, Any]] = {
    "option": (str | None, OPTION),
    "region": (str | None, REGION),
    "tag": (list[str] | None, TAG),
    "source": (str | None, SOURCE),
    "priority_start": (int | None, PRIORITY_START),
    "deny_internet": (bool | None, DENY_INTERNET),
    "proxy_ip": (str | None, PROXY_IP),
    "proxy_port": (int | None, PROXY_PORT),
    "max_prefixes": (int | None, MAX_PREFIXES),
    "rule_prefix": (str | None, RULE_PREFIX),
    "expand_unusable": (bool | None, EXPAND_UNUSABLE),
    "for_nsg": (str | None, FOR_NSG),
    "config": (str | None, CONFIG),
    "target_name": (str | None, TARGET_NAME),
    "data": (str | None, DATA),
    "cloud": (str | None, CLOUD),
    "proxy_ports": (list[str] | None, PROXY_PORTS),
    "ip_version": (str | None, IP_VERSION),
    "allow_public_proxy_ip": (bool | None, ALLOW_PUBLIC_PROXY_IP),
    "max_extra": (str | None, MAX_EXTRA),
    "allow_wide": (bool | None, ALLOW_WIDE),
    "place": (str | None, PLACE),
    "next_hop": (str | None, NEXT_HOP),
    "next_hop_ip": (str | None, NEXT_HOP_IP),
    "vnet": (list[str] | None, VNET),
    "firewall_ip": (str | None, FIREWALL_IP),
    "rcg_name": (str | None, RCG_NAME),
}

F = TypeVar("F", bound=Callable[..., Any])


def rule_inputs(func: F) -> F:
    """Give a command every rule option; it receives them as its `inputs: RuleInputs` parameter."""
    own = [p for p in inspect.signature(func).parameters.values() if p.name != "inputs"]
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
        for name, (annotation, default) in _DECLARATIONS.items()
    ]

    @functools.wraps(func)
    def command(**kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for name in _DECLARATIONS}
        return func(inputs=RuleInputs(**given), **kwargs)

    command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + shared
    )
    annotations = {k: v for k, v in func.__annotations__.items() if k not in ("inputs", "return")}
    command.__annotations__ = {**annotations, **{n: a for n, (a, _) in _DECLARATIONS.items()}, "return": None}
    return command  # type: ignore[return-value]
