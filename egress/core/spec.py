"""What the user asked for: one egress setup (option, tags, priorities, ...), from flags and/or a TOML config."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from egress.core import naming
from egress.errors import UsageError

if TYPE_CHECKING:
    from egress.core.discovery import Discover

OPTIONS = ("service-tags", "ip-ranges", "proxy")
FOR_NSG = ("vm", "proxy")
DEFAULT_PRIORITY_START = 200
DEFAULT_DENY_PRIORITY = 4096  # the NSG's last priority (its limits.MAX_PRIORITY; a test holds them equal)
DEFAULT_RULE_PREFIX = "egress-"
DEFAULT_SOURCE = "VirtualNetwork"
DEFAULT_PROXY_PORT = 3128
# The guide's NSG exception for the proxy VM: one range, which also opens 81-442 (`proxy_ports` narrows it).
DEFAULT_PROXY_PORTS = ("80-443",)
IP_VERSIONS = ("4", "6", "both")
# What an over-approximation (an NSG's or a route table's) may admit beyond the tags unless --allow-wide, per family: a /8's worth of IPv4
# (0.4% of the space) and a /32's worth of IPv6 (counted in /64s, as the budget weighs IPv6). --max-prefixes 20
# for East US's backup tags admitted all of IPv4 (0.0.0.0/0) with exit 0 before this limit.
DEFAULT_MAX_EXTRA_V4 = 1 << 24
DEFAULT_MAX_EXTRA_V6_64S = 1 << 32
# Azure Backup of workloads needs Azure Backup + Storage + Entra ID (backup-networking.md).
BACKUP_TAGS = ("Storage.{region}", "AzureBackup", "AzureActiveDirectory")


@dataclass(frozen=True, slots=True)
class EgressSpec:
    option: str = "service-tags"
    region: str | None = None
    tags: tuple[str, ...] = ()
    source: str = DEFAULT_SOURCE
    priority_start: int = DEFAULT_PRIORITY_START
    deny_internet: bool = True
    deny_priority: int = DEFAULT_DENY_PRIORITY
    proxy_ip: str | None = None
    proxy_port: int = DEFAULT_PROXY_PORT
    max_prefixes: int | None = None
    rule_prefix: str = DEFAULT_RULE_PREFIX
    expand_unusable: bool = False
    for_nsg: str = "vm"
    cloud: str = "public"
    data: str | None = None
    proxy_ports: tuple[str, ...] = DEFAULT_PROXY_PORTS
    ip_version: str = "both"
    allow_public_proxy_ip: bool = False
    # Over-approximation (--max-prefixes) may admit at most this much beyond the tags, per family (None: the
    # DEFAULT_MAX_EXTRA_* above); IPv4 in addresses, IPv6 in /64s. `allow_wide` lifts the limit.
    max_extra_v4: int | None = None
    max_extra_v6: int | None = None
    allow_wide: bool = False
    # Where the rules go (egress.places): the NSG, a route table or a firewall policy; fields below are theirs.
    place: str = "nsg"
    next_hop: str = "Internet"
    next_hop_ip: str | None = None
    vnet: tuple[str, ...] = ()
    firewall_ip: str | None = None
    rcg_name: str = "egress-backup"

    def validated(self) -> EgressSpec:
        """Check every field on its own; returns self so calls chain."""
        if self.option not in OPTIONS:
            raise UsageError(f"unknown option {self.option!r}: use one of {', '.join(OPTIONS)}.")
        if self.for_nsg not in FOR_NSG:
            raise UsageError(f"--for must be one of {', '.join(FOR_NSG)}, not {self.for_nsg!r}.")
        if self.max_prefixes is not None and self.max_prefixes < 1:
            raise UsageError(f"--max-prefixes must be at least 1, not {self.max_prefixes}.")
        for label, extra in (("IPv4", self.max_extra_v4), ("IPv6", self.max_extra_v6)):
            if extra is not None and extra < 0:
                raise UsageError(f"--max-extra for {label} must be 0 or more, not {extra}.")
        if not 1 <= self.proxy_port <= 65535:
            raise UsageError(f"--proxy-port {self.proxy_port} is not a TCP port (1-65535).")
        if self.option == "proxy":
            if not self.proxy_ip:
                raise UsageError("--option proxy needs --proxy-ip (the proxy VM's private IP).")
            _check_ip(self.proxy_ip)
            from egress.core.inputs import check_proxy_ip, check_proxy_ports

            check_proxy_ip(self.proxy_ip, allow_public=self.allow_public_proxy_ip)
            check_proxy_ports(self.proxy_ports)
        if self.ip_version not in IP_VERSIONS:
            raise UsageError(f"--ip-version must be 4, 6 or both, not {self.ip_version!r}.")
        if not self.rule_prefix:
            # An empty prefix would make every egress-marked rule in the NSG look like this run's to delete.
            raise UsageError(
                "--rule-prefix is empty: egress owns the rules whose names start with it, so give one "
                "(default egress-)."
            )
        if not naming.RULE_NAME.match(self.rule_prefix + "x"):
            raise UsageError(
                f"--rule-prefix {self.rule_prefix!r} cannot start an Azure rule name "
                "(letters, digits, `_`, then `.`, `-`, `_`)."
            )
        if len(self.rule_prefix) > 30:
            raise UsageError(f"--rule-prefix {self.rule_prefix!r} is longer than 30 characters.")
        _check_source(self.source)
        return self

    def nsg_validated(self) -> EgressSpec:
        """validated() plus the NSG's priority and prefix limits (other places check their own: egress.places)."""
        from egress.places.nsg import limits  # the NSG's: loaded only when planning an NSG

        self.validated()
        for label, value in (
            ("--priority-start", self.priority_start),
            ("deny priority", self.deny_priority),
        ):
            if not limits.MIN_PRIORITY <= value <= limits.MAX_PRIORITY:
                raise UsageError(
                    f"{label} {value} is outside Azure's range {limits.MIN_PRIORITY}-{limits.MAX_PRIORITY}."
                )
        if self.deny_internet and self.priority_start >= self.deny_priority:
            raise UsageError(
                f"--priority-start {self.priority_start} must be below the deny-Internet rule's priority "
                f"{self.deny_priority}; allows must come first."
            )
        if self.max_prefixes is not None and self.max_prefixes > limits.MAX_DESTINATION_PREFIXES_PER_NSG:
            raise UsageError(
                f"--max-prefixes {self.max_prefixes} exceeds Azure's {limits.MAX_DESTINATION_PREFIXES_PER_NSG} "
                "destination prefixes per NSG."
            )
        return self


def _check_ip(text: str) -> None:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise UsageError(f"--proxy-ip {text!r} is not an IP address.") from None


def _check_source(text: str) -> None:
    if text == "*":  # any source, as Azure writes it
        return
    if not text or not all(ch.isalnum() or ch in "./:_-" for ch in text):
        raise UsageError(f"--source {text!r} is neither a service tag nor an address prefix.")
    if text[0].isdigit() or ":" in text:
        from egress.core.inputs import check_prefix

        check_prefix("--source", text)


_KEYS = {f.name for f in fields(EgressSpec)}
_CONFIG_ALIASES = {"for": "for_nsg"}


def spec_from_mapping(values: Mapping[str, Any], *, where: str, base: EgressSpec | None = None) -> EgressSpec:
    """Apply a config table's keys (snake_case mirrors of the flags) over `base`."""
    changes: dict[str, Any] = {}
    for key, value in values.items():
        name = _CONFIG_ALIASES.get(key, key)
        if name not in _KEYS:
            raise UsageError(f"{where}: unknown key {key!r}; known keys: {', '.join(sorted(_KEYS))}.")
        changes[name] = _coerce(name, value, where)
    return replace(base or EgressSpec(), **changes)


def _coerce(name: str, value: Any, where: str) -> Any:
    expected = {f.name: f.type for f in fields(EgressSpec)}[name]
    if name == "ip_version" and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # `ip_version = 4` reads as naturally as "4"
    if name == "proxy_ports":  # `proxy_ports = [80, 443]` or "80,443", as on the command line
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list):
            value = [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
    if name in ("tags", "proxy_ports", "vnet"):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UsageError(f"{where}: `{name}` must be a list of strings.")
        return tuple(_no_control(where, name, v) for v in value)
    if "int" in str(expected):
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"{where}: `{name}` must be an integer.")
        return value
    if "bool" in str(expected):
        if not isinstance(value, bool):
            raise UsageError(f"{where}: `{name}` must be true or false.")
        return value
    if not isinstance(value, str):
        raise UsageError(f"{where}: `{name}` must be a string.")
    return _no_control(where, name, value)


def _no_control(where: str, name: str, value: str) -> str:
    """A NUL (or other control character) in a path or name is a broken config, not something to open."""
    from egress.core.inputs import control_characters

    bad = control_characters(value)
    if bad:
        raise UsageError(f"{where}: `{name}` holds a control character ({bad}); remove it.")
    return value


@dataclass(frozen=True, slots=True)
class TargetConfig:
    name: str
    target: str  # "" for a `discover` entry (its NSGs are found at run time)
    spec: EgressSpec
    discover: Discover | None = None
    keys: frozenset[str] = (
        frozenset()
    )  # the spec fields the entry itself sets (its place refuses the foreign)


@dataclass(frozen=True, slots=True)
class Config:
    defaults: EgressSpec
    targets: tuple[TargetConfig, ...] = field(default=())
    exports: tuple[Any, ...] = field(default=())  # egress.places.allowlist.config.ExportConfig

    def target(self, name: str) -> TargetConfig:
        for t in self.targets:
            if t.name == name:
                return t
        head = name.split("/", 1)[0]
        for t in self.targets:  # `entry/<subscription>/<group>/<nsg>`: one NSG a `discover` entry finds
            if t.discover is not None and t.name == head:
                return replace(t, name=name)
        known = ", ".join([t.name for t in self.targets] + [e.name for e in self.exports]) or "none"
        raise UsageError(f"no target named {name!r} in the config (targets and exports: {known}).")


def parse_config(text: str, *, where: str) -> Config:
    """`[defaults]` plus a `[[targets]]` array; each target has `name`, `target` and any overrides."""
    import tomllib  # only --config needs it

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{where}: not valid TOML ({exc}).") from None
    unknown = set(doc) - {"defaults", "targets", "exports"}
    if unknown:
        raise UsageError(
            f"{where}: unknown table(s) {', '.join(sorted(unknown))}; use [defaults], [[targets]] and [[exports]]."
        )
    defaults_table = doc.get("defaults", {})
    if not isinstance(defaults_table, dict):
        raise UsageError(f"{where}: [defaults] must be a table.")
    defaults = spec_from_mapping(defaults_table, where=f"{where} [defaults]")
    targets: list[TargetConfig] = []
    raw_targets = doc.get("targets", [])
    if not isinstance(raw_targets, list):
        raise UsageError(f"{where}: `targets` must be an array of tables ([[targets]]).")
    seen: set[str] = set()
    for index, table in enumerate(raw_targets):
        label = f"{where} targets[{index}]"
        if not isinstance(table, dict):
            raise UsageError(f"{label}: must be a table.")
        table = dict(table)
        name = table.pop("name", None)
        target = table.pop("target", None)
        discover_table = table.pop("discover", None)
        if not isinstance(name, str) or not name:
            raise UsageError(f"{label}: needs a `name`.")
        if discover_table is not None:
            from egress.core.discovery import parse_discover

            if target is not None:
                raise UsageError(f"{label} ({name}): give `target` or `discover`, not both.")
            if name in seen:
                raise UsageError(f"{label}: duplicate target name {name!r}.")
            seen.add(name)
            found = parse_discover(discover_table, f"{label} ({name})")
            entry_spec = spec_from_mapping(table, where=label, base=defaults)
            from egress.core.discovery import PLACE_OF_TYPE

            if entry_spec.place != PLACE_OF_TYPE[found.type]:  # the settings must be for what it finds
                raise UsageError(
                    f"{label} ({name}): `discover` finds {found.noun}s here; it cannot be used with place "
                    f"{entry_spec.place!r} (set place = {PLACE_OF_TYPE[found.type]!r} or discover type)."
                )
            keys = frozenset(_CONFIG_ALIASES.get(k, k) for k in table)
            targets.append(TargetConfig(name, "", entry_spec, found, keys))
            continue
        if not isinstance(target, str) or not target:
            raise UsageError(
                f"{label} ({name}): needs a `target` (an azure:/subscriptions/... id or a file)."
            )
        _no_control(label, "name", name)
        _no_control(f"{label} ({name})", "target", target)
        if name in seen:
            raise UsageError(f"{label}: duplicate target name {name!r}.")
        seen.add(name)
        keys = frozenset(_CONFIG_ALIASES.get(k, k) for k in table)
        targets.append(
            TargetConfig(name, target, spec_from_mapping(table, where=label, base=defaults), keys=keys)
        )
    _check_one_owner(targets, where)
    exports: tuple[Any, ...] = ()
    if "exports" in doc:
        from egress.places.allowlist.config import parse_exports

        exports = parse_exports(doc["exports"], defaults, where, seen)
    return Config(defaults=defaults, targets=tuple(targets), exports=exports)


def _target_key(target: str) -> str:
    """The NSG a target names, spelled one way: ids are case-insensitive, `azure:` and `file:` are optional."""
    import posixpath

    value = target.strip()
    lowered = value.lower()
    if lowered.startswith("azure:") or lowered.startswith("/subscriptions/"):
        return "azure:" + lowered.removeprefix("azure:").rstrip("/")
    if lowered.startswith("file:"):
        value = value[len("file:") :]
    return "file:" + posixpath.normpath(value)


def _check_one_owner(targets: list[TargetConfig], where: str) -> None:
    """Two entries writing one NSG where one's rule prefix starts the other's (egress owns the rules whose name
    starts with its prefix) would each delete the other's rules on every run."""
    seen: dict[str, list[TargetConfig]] = {}
    for t in targets:
        if t.discover is not None:
            continue  # its NSGs are known at run time (refresh checks them then)
        mine = t.spec.rule_prefix
        for first in seen.setdefault(_target_key(t.target), []):
            theirs = first.spec.rule_prefix
            if mine.startswith(theirs) or theirs.startswith(mine):
                prefixes = repr(mine) if mine == theirs else f"{theirs!r} and {mine!r}"
                raise UsageError(
                    f"{where}: targets {first.name!r} and {t.name!r} both manage {t.target} with rule prefix "
                    f"{prefixes}, so each would delete the other's rules; give each its own `rule_prefix` "
                    "(neither starting the other) or remove one."
                )
        seen[_target_key(t.target)].append(t)
