"""What every renderer shares, whatever the place: the resource the files are for, the header's data and
command lines.

Pure string building: no clock, no file system, so the same plan gives the same bytes on any machine.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from egress.core import spec as spec_defaults
from egress.core.spec import EgressSpec
from egress.core.values import nsg_name, resource_group_name
from egress.render.header import Header

SHA256_SHOWN = 16  # hex digits of the data file's sha256 in headers: enough to tell weekly files apart


@dataclass(frozen=True, slots=True)
class RenderTarget:
    """The resource the files are for (an NSG, a route table, a firewall policy: --nsg-name, whatever the place)
    and its resource group; None leaves the choice to whoever runs them (a required parameter)."""

    name: str | None = None
    resource_group: str | None = None

    def validated(self) -> RenderTarget:
        if self.name is not None:
            nsg_name(self.name)  # Azure's one rule for Microsoft.Network resource names
        if self.resource_group is not None:
            resource_group_name(self.resource_group)
        return self


def _file_name(source: str) -> str:
    """The last part of a path or URL, whichever separator it uses: headers never name the folder."""
    name = PureWindowsPath(PurePosixPath(source).name).name
    return name or source


def data_provenance(provenance: Mapping[str, Any]) -> str:
    """`Public cloud, changeNumber 343, ServiceTags_Public_20250127.json (2025-01-27), sha256 870cdf2845dbe73a`.

    The file is named without its folder so output does not depend on where the data lives; the sha256 prefix
    identifies it. API data keeps its `api:<subscription>/<location>` source: that is not a path.
    """
    source = str(provenance.get("source") or "unknown source")
    kind = provenance.get("kind")
    if kind == "bundled":
        shown = "bundled " + _file_name(source.removeprefix("bundled:"))
    elif kind == "api":
        shown = source
    else:
        shown = _file_name(source)
    if provenance.get("fileDate"):
        shown += f" ({provenance['fileDate']})"
    parts = [f"{provenance.get('cloud') or 'unknown'} cloud"]
    if provenance.get("changeNumber") is not None:
        parts.append(f"changeNumber {provenance['changeNumber']}")
    parts.append(shown)
    if provenance.get("sha256"):
        parts.append(f"sha256 {str(provenance['sha256'])[:SHA256_SHOWN]}")
    return ", ".join(parts)


def _spec_flags(spec: EgressSpec) -> list[tuple[str, str | None]]:
    """The flags that reproduce `spec` (values that differ from the defaults, plus --option)."""
    default = EgressSpec()
    flags: list[tuple[str, str | None]] = [("--option", spec.option)]
    if spec.region:
        flags.append(("--region", spec.region))
    flags += [("--tag", tag) for tag in spec.tags]  # order matters: it decides rule order
    if spec.source != default.source:
        flags.append(("--source", spec.source))
    if spec.priority_start != default.priority_start:
        flags.append(("--priority-start", str(spec.priority_start)))
    if not spec.deny_internet:
        flags.append(("--no-deny-internet", None))
    if spec.proxy_ip:
        flags.append(("--proxy-ip", spec.proxy_ip))
    if spec.proxy_port != default.proxy_port:
        flags.append(("--proxy-port", str(spec.proxy_port)))
    if spec.proxy_ports != default.proxy_ports:
        flags.append(("--proxy-ports", ",".join(spec.proxy_ports)))
    if spec.allow_public_proxy_ip:
        flags.append(("--allow-public-proxy-ip", None))
    if spec.ip_version != default.ip_version:
        flags.append(("--ip-version", spec.ip_version))
    if spec.max_prefixes is not None:
        flags.append(("--max-prefixes", str(spec.max_prefixes)))
    if spec.max_extra_v4 is not None or spec.max_extra_v6 is not None:
        v4 = "" if spec.max_extra_v4 is None else str(spec.max_extra_v4)
        flags.append(("--max-extra", v4 + ("" if spec.max_extra_v6 is None else f",{spec.max_extra_v6}")))
    if spec.allow_wide:
        flags.append(("--allow-wide", None))
    if spec.rule_prefix != default.rule_prefix:
        flags.append(("--rule-prefix", spec.rule_prefix))
    if spec.expand_unusable:
        flags.append(("--expand-unusable", None))
    if spec.for_nsg != default.for_nsg:
        flags.append(("--for", spec.for_nsg))
    if spec.cloud != default.cloud:
        flags.append(("--cloud", spec.cloud))
    if spec.data:
        flags.append(("--data", spec.data))
    # The place and its own inputs (egress.places): only what differs from the defaults.
    if spec.place != default.place:
        flags.append(("--place", spec.place))
    if spec.next_hop != default.next_hop:
        flags.append(("--next-hop", spec.next_hop))
    if spec.next_hop_ip:
        flags.append(("--next-hop-ip", spec.next_hop_ip))
    flags += [("--vnet", prefix) for prefix in spec.vnet]
    if spec.firewall_ip:
        flags.append(("--firewall-ip", spec.firewall_ip))
    if spec.rcg_name != default.rcg_name:
        flags.append(("--rcg-name", spec.rcg_name))
    return flags


def regenerate_command(
    fmt: str,
    spec: EgressSpec,
    target: RenderTarget,
    *,
    out: str | None = None,
    config: str | None = None,
    target_name: str | None = None,
    previous: str | None = None,
) -> str:
    """`egress render ...` with the effective options (config merged in), flags sorted by name.

    Only settings without a flag (the deny priority) keep `--config`/`--target-name` in the command; flags
    override the config, so the result is the same either way.
    """
    flags = [("--format", fmt), *_spec_flags(spec)]
    if target.name:
        flags.append(("--nsg-name", target.name))
    if target.resource_group:
        flags.append(("--resource-group", target.resource_group))
    if out is not None:
        flags.append(("--out", out))
    if previous is not None:
        flags.append(("--previous", previous))
    if config and spec.deny_priority != spec_defaults.DEFAULT_DENY_PRIORITY:
        flags.append(("--config", config))
        if target_name:
            flags.append(("--target-name", target_name))
    words = ["egress", "render"]
    for flag, value in sorted(flags, key=lambda item: item[0]):  # stable: repeated --tag keep their order
        words += [flag] if value is None else [flag, value]
    return shlex.join(words)


def plan_header(
    planned: Any,
    fmt: str,
    target: RenderTarget,
    *,
    tool_version: str,
    out: str | None = None,
    config: str | None = None,
    target_name: str | None = None,
    previous: str | None = None,
) -> Header:
    """The header of a rendered file of any place: version, data provenance, regenerate command. `planned` is
    the place's plan (with `.spec` and `.provenance`)."""
    command = regenerate_command(
        fmt, planned.spec, target, out=out, config=config, target_name=target_name, previous=previous
    )
    return Header(tool_version=tool_version, provenance=data_provenance(planned.provenance), command=command)
