"""Turn an EgressSpec and service-tag data into the ordered NSG rules of one of the guide's three options."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from egress.core import prefixes
from egress.core.model import Dataset, ServiceTag
from egress.core.naming import MARKER, slug
from egress.core.priorities import allocate
from egress.core.selection import resolve_tags
from egress.core.spec import EgressSpec
from egress.errors import RuleError, UnknownTagError, UsageError
from egress.places.common import check_extra, over_approximation_cost
from egress.places.nsg import limits
from egress.places.nsg.rules import PlannedRule, with_owner

HTTPS = "443"
# Address words every NSG accepts that are not in the service-tag file (lower case).
NSG_WORDS = frozenset({"*", "any", "virtualnetwork", "internet", "azureloadbalancer"})


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The outcome of planning: ordered rules plus what a reviewer needs to trust them."""

    rules: tuple[PlannedRule, ...]
    spec: EgressSpec
    provenance: dict[str, Any]
    tags: tuple[dict[str, Any], ...] = ()
    notes: tuple[str, ...] = ()
    mode: str = "exact"  # "exact" | "budget" | "tags" | "proxy"
    extra_ipv4: int = 0  # addresses an over-approximation admits beyond the tags
    extra_ipv6: int = 0
    exact_prefixes: int | None = None
    # Rules an earlier rendering had (or left in the NSG) that this one drops: (name, direction, priority).
    left: tuple[tuple[str, str, int], ...] = ()

    def summary(self) -> dict[str, Any]:
        allows = [r for r in self.rules if r.access == "Allow"]
        return {
            "option": self.spec.option,
            "mode": self.mode,
            "rules": len(self.rules),
            "allowRules": len(allows),
            "denyRules": len(self.rules) - len(allows),
            "destinationPrefixes": sum(len(r.destination) for r in self.rules),
            "ipv4Prefixes": sum(len(r.destination) for r in self.rules if r.family == 4),
            "ipv6Prefixes": sum(len(r.destination) for r in self.rules if r.family == 6),
            "exactPrefixes": self.exact_prefixes,
            "extraIPv4Addresses": self.extra_ipv4,
            "extraIPv6Addresses": self.extra_ipv6,
            "notes": list(self.notes),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "rules": [r.to_arm() for r in self.rules],
            "summary": self.summary(),
            "provenance": {**self.provenance, "tags": list(self.tags)},
        }


@dataclass(slots=True)
class _Context:
    spec: EgressSpec
    dataset: Dataset
    notes: list[str] = field(default_factory=list)


def build_rules(
    spec: EgressSpec,
    dataset: Dataset,
    *,
    used_priorities: Mapping[str, Iterable[int]] | None = None,
    current: Mapping[str, int] | None = None,
    reserved_destination_prefixes: int = 0,
    reserved_rules: int = 0,
    earlier: Mapping[str, tuple[str, int]] | None = None,
) -> RuleSet:
    """Plan the rules of `spec`.

    `used_priorities` maps a direction to priorities other rules already hold (apply passes the NSG's unmanaged
    rules); `current` maps existing managed rule names to their priorities so unchanged rules keep their numbers;
    the `reserved_*` counts are what unmanaged rules already consume of the NSG's limits. `earlier` maps the rules
    of an earlier rendering (name -> direction, priority; see egress.places.nsg.readback): a rule it had keeps its
    priority, and no new rule takes a priority one of its rules held, so deploying this rendering over that one
    never puts two rules at one priority.
    """
    spec.nsg_validated()
    _check_legacy(spec, dataset)
    _check_source_tag(spec.source, dataset)
    ctx = _Context(spec, dataset)
    if spec.option == "proxy":
        allows, mode, extra, exact = _proxy_rules(ctx), "proxy", (0, 0), None
        used_tags: list[ServiceTag] = []
    else:
        used_tags = resolve_tags(spec, dataset)
        if spec.option == "service-tags":
            allows, mode, extra, exact = _service_tag_rules(ctx, used_tags, reserved_destination_prefixes)
        else:
            allows, mode, extra, exact = _ip_range_rules(ctx, used_tags, reserved_destination_prefixes)
    if not allows:
        raise RuleError("the plan holds no allow rule; check --tag, --region and --source.")
    rules = _assign_priorities(spec, allows, used_priorities or {}, current or {}, earlier or {})
    if spec.deny_internet:
        rules.append(_deny_rule(spec, used_priorities or {}))
    rules = [_owned(spec, r) for r in rules]
    total = len(rules) + reserved_rules
    if total > limits.MAX_RULES_PER_NSG:
        raise RuleError(
            f"the plan needs {len(rules)} rules ({total} with the NSG's other rules), over Azure's "
            f"{limits.MAX_RULES_PER_NSG} per NSG; use --max-prefixes or service tags."
        )
    rules.sort(key=lambda r: (r.direction != "Outbound", r.priority, r.name))
    kept = {r.name for r in rules}
    left = tuple(
        sorted(
            (name, direction, priority)
            for name, (direction, priority) in (earlier or {}).items()
            if name not in kept
        )
    )
    tags_info = tuple(
        {
            "name": t.name,
            "changeNumber": t.change_number,
            "nsgUsable": t.nsg_usable,
            "prefixes": len(t.prefixes),
        }
        for t in used_tags
    )
    return RuleSet(
        rules=tuple(rules),
        spec=spec,
        provenance=dataset.provenance.to_dict(),
        tags=tags_info,
        notes=tuple(ctx.notes),
        mode=mode,
        extra_ipv4=extra[0],
        extra_ipv6=extra[1],
        exact_prefixes=exact,
        left=left,
    )


# --- tags -------------------------------------------------------------------------------------------------------


def _check_legacy(spec: EgressSpec, dataset: Dataset) -> None:
    """The retired XML lists IP ranges per region; its `AzureCloud.<region>` names are not NSG service tags."""
    if dataset.provenance.kind != "legacy-xml":
        return
    if spec.option == "service-tags":
        raise UsageError(
            "the legacy XML file holds IP ranges per region, not service tags: its AzureCloud.<region> names "
            "do not exist as NSG tags; use --option ip-ranges with it, or a ServiceTags_*.json file."
        )
    if _source_family(spec.source) is None and spec.source.strip().lower() not in NSG_WORDS:
        raise UsageError(
            f"--source {spec.source}: the legacy XML file's names are not NSG service tags; give a prefix."
        )


def _check_source_tag(source: str, dataset: Dataset) -> None:
    """A --source that is a word must be one Azure takes in a rule, else the write fails at Azure."""
    if _source_family(source) is not None or source.strip().lower() in NSG_WORDS:
        return
    tag = dataset.find(source)
    if tag is None:
        raise UnknownTagError(
            f"--source {source!r} is neither an address prefix, VirtualNetwork, AzureLoadBalancer, Internet, * "
            "nor a service tag in the data; run `egress ranges list` to see the tags."
        )
    if not tag.nsg_usable:
        raise RuleError(
            f"--source {tag.name}: not usable as an NSG service tag (its networkFeatures lack NSG; Azure "
            "rejects it); give its address prefixes or another tag."
        )


def _describe(*parts: str) -> str:
    text = " ".join([MARKER, *[p for p in parts if p]])
    if len(text) > limits.MAX_DESCRIPTION_LENGTH:
        text = text[: limits.MAX_DESCRIPTION_LENGTH - 1] + "…"
    return text


def _owned(spec: EgressSpec, rule: PlannedRule) -> PlannedRule:
    """Record the owning --rule-prefix in the description (the default prefix keeps the bare marker)."""
    text = with_owner(rule.description, spec.rule_prefix, limits.MAX_DESCRIPTION_LENGTH)
    return rule if text == rule.description else replace(rule, description=text)


def _cn(tag: ServiceTag) -> str:
    return f"cn{tag.change_number}" if tag.change_number is not None else ""


def _name(spec: EgressSpec, *parts: str) -> str:
    name = spec.rule_prefix + "-".join(p for p in parts if p)
    if len(name) > limits.MAX_NAME_LENGTH:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = name[: limits.MAX_NAME_LENGTH - 9].rstrip("-.") + "-" + digest
    return name


# --- option (b): service tags -----------------------------------------------------------------------------------


def _service_tag_rules(
    ctx: _Context, tags: Sequence[ServiceTag], reserved: int
) -> tuple[list[PlannedRule], str, tuple[int, int], int | None]:
    spec = ctx.spec
    rules: list[PlannedRule] = []
    unusable = [t for t in tags if not t.nsg_usable]
    if unusable and not spec.expand_unusable:
        names = ", ".join(t.name for t in unusable)
        raise RuleError(
            f"{names}: not usable as an NSG service tag (its networkFeatures lack NSG; Azure rejects it); "
            "use the global tag (e.g. AzureBackup) or --expand-unusable to allow its IP ranges instead."
        )
    for tag in tags:
        if tag.nsg_usable:
            rules.append(
                PlannedRule(
                    name=_name(spec, slug(tag.name)),
                    direction="Outbound",
                    access="Allow",
                    protocol="Tcp",
                    source=(spec.source,),
                    destination=(tag.name,),
                    destination_ports=(HTTPS,),
                    description=_describe(f"allow {tag.name} tcp/443 (service tag)"),
                    tag=tag.name,
                    kind="tag",
                )
            )
    if unusable:
        ctx.notes.append(
            "expanded to IP ranges (not NSG-usable tags): " + ", ".join(t.name for t in unusable)
        )
        expanded, _, _, _ = _ip_range_rules(ctx, unusable, reserved + len(rules))
        rules.extend(expanded)
    return rules, "tags", (0, 0), None


# --- option (a): IP ranges --------------------------------------------------------------------------------------


def _source_family(source: str) -> int | None:
    try:
        return ipaddress.ip_network(source, strict=False).version
    except ValueError:
        return None  # a service tag such as VirtualNetwork works with both families


def _tag_prefixes(ctx: _Context, tag: ServiceTag) -> list[prefixes.Prefix]:
    return prefixes.parse_tag_prefixes(tag, RuleError)


def _keep_family(ctx: _Context, items: list[prefixes.Prefix]) -> list[prefixes.Prefix]:
    family = _source_family(ctx.spec.source)
    reason = f"--source {ctx.spec.source} is IPv{family}"
    if ctx.spec.ip_version != "both":
        wanted = int(ctx.spec.ip_version)
        if family is not None and family != wanted:
            raise UsageError(f"--ip-version {wanted} but --source {ctx.spec.source} is IPv{family}.")
        family, reason = wanted, f"--ip-version {wanted}"
    if family is None:
        return items
    kept = [p for p in items if p[0] == family]
    dropped = len(items) - len(kept)
    if dropped:
        note = f"IPv{10 - family} destinations left out: {reason}"
        if note not in ctx.notes:
            ctx.notes.append(note)
    return kept


def _ip_range_rules(
    ctx: _Context, tags: Sequence[ServiceTag], reserved: int
) -> tuple[list[PlannedRule], str, tuple[int, int], int | None]:
    spec = ctx.spec
    limit = limits.MAX_DESTINATION_PREFIXES_PER_NSG - reserved
    budget = min(spec.max_prefixes, limit) if spec.max_prefixes else limit
    per_tag = {t.name: prefixes.aggregate(_keep_family(ctx, _tag_prefixes(ctx, t))) for t in tags}
    needed = sum(len(v) for v in per_tag.values())
    if needed <= budget:
        rules: list[PlannedRule] = []
        for tag in tags:
            rules.extend(
                _chunk_rules(spec, slug(tag.name), per_tag[tag.name], tag.name, _cn(tag), tag=tag.name)
            )
        return rules, "exact", (0, 0), needed
    union = prefixes.aggregate(p for v in per_tag.values() for p in v)
    if spec.max_prefixes is None and len(union) > budget:
        raise RuleError(
            f"the tags need {len(union)} destination prefixes, over the {budget} this NSG can still hold "
            f"(Azure allows {limits.MAX_DESTINATION_PREFIXES_PER_NSG} per NSG); "
            f"use --max-prefixes N to over-approximate, or --option service-tags."
        )
    try:
        result = prefixes.budget_aggregate(union, budget, v4_weight=prefixes.IPV4_ADDRESS_AS_IPV6_SUBNET)
    except ValueError as exc:
        raise UsageError(f"--max-prefixes {budget}: {exc}") from None
    names = "+".join(t.name for t in tags)
    digest = hashlib.sha256(
        ",".join(sorted(f"{t.name}:{t.change_number}" for t in tags)).encode()
    ).hexdigest()[:8]
    if result.extra_addresses:
        cost = over_approximation_cost(result.extra_ipv4, result.extra_ipv6)
        check_extra(
            spec, result.extra_ipv4, result.extra_ipv6, len(union), len(result.prefixes), effect="would allow"
        )
        ctx.notes.append(f"over-approximated {len(union)} prefixes into {len(result.prefixes)}: {cost}")
    rules = _chunk_rules(spec, "ranges", result.prefixes, names, f"set {digest}", tag=None)
    mode = "budget" if result.extra_addresses else "exact"
    return rules, mode, (result.extra_ipv4, result.extra_ipv6), len(union)


def _block_key(prefix: prefixes.Prefix) -> tuple[int, int]:
    version, network, _ = prefix
    if version == 4:
        return 4, network >> (32 - limits.IPV4_BLOCK_BITS)
    return 6, network >> (128 - limits.IPV6_BLOCK_BITS)


def _chunk_rules(
    spec: EgressSpec,
    base: str,
    items: Sequence[prefixes.Prefix],
    what: str,
    provenance: str,
    *,
    tag: str | None,
) -> list[PlannedRule]:
    """One rule per aligned block (/8 IPv4, /16 IPv6), so a weekly change only touches the blocks it falls in."""
    blocks: dict[tuple[int, int], list[prefixes.Prefix]] = {}
    for p in sorted(items):
        blocks.setdefault(_block_key(p), []).append(p)
    rules: list[PlannedRule] = []
    for (family, block), members in sorted(blocks.items()):
        label = f"{block:03d}" if family == 4 else f"{block:04x}"
        block_text = f"{block}.0.0.0/8" if family == 4 else f"{block:x}::/16"
        pieces = [
            members[i : i + limits.MAX_PREFIXES_PER_RULE]
            for i in range(0, len(members), limits.MAX_PREFIXES_PER_RULE)
        ]
        for index, piece in enumerate(pieces):
            suffix = label if len(pieces) == 1 else f"{label}-{index + 1}"
            rules.append(
                PlannedRule(
                    name=_name(spec, base, f"v{family}", suffix),
                    direction="Outbound",
                    access="Allow",
                    protocol="Tcp",
                    source=(spec.source,),
                    destination=tuple(prefixes.format_prefix(p) for p in piece),
                    destination_ports=(HTTPS,),
                    description=_describe(f"allow {what} in {block_text} tcp/443", provenance),
                    tag=tag,
                    family=family,
                    kind="prefixes",
                )
            )
    return rules


# --- option (c): proxy ------------------------------------------------------------------------------------------


def _proxy_rules(ctx: _Context) -> list[PlannedRule]:
    spec = ctx.spec
    assert spec.proxy_ip is not None  # validated()
    proxy = str(ipaddress.ip_network(spec.proxy_ip))
    family = ipaddress.ip_address(spec.proxy_ip).version
    if spec.ip_version not in ("both", str(family)):
        raise UsageError(f"--ip-version {spec.ip_version} but --proxy-ip {spec.proxy_ip} is IPv{family}.")
    ports = ",".join(spec.proxy_ports)
    rules = [
        PlannedRule(
            name=_name(spec, "allow-proxy"),
            direction="Outbound",
            access="Allow",
            protocol="Tcp",
            source=(proxy,),
            destination=("Internet",),
            destination_ports=spec.proxy_ports,
            description=_describe(f"proxy {spec.proxy_ip} may reach the Internet on tcp/{ports}"),
            family=family,
            kind="proxy",
        )
    ]
    if spec.for_nsg == "vm":
        rules.append(
            PlannedRule(
                name=_name(spec, "allow-to-proxy"),
                direction="Outbound",
                access="Allow",
                protocol="Tcp",
                source=(spec.source,),
                destination=(proxy,),
                destination_ports=(str(spec.proxy_port),),
                description=_describe(f"{spec.source} may reach the proxy {spec.proxy_ip}:{spec.proxy_port}"),
                family=family,
                kind="proxy",
            )
        )
    else:
        rules.append(
            PlannedRule(
                name=_name(spec, "allow-vnet-to-proxy"),
                direction="Inbound",
                access="Allow",
                protocol="Tcp",
                source=(spec.source,),
                destination=(proxy,),
                destination_ports=(str(spec.proxy_port),),
                description=_describe(f"{spec.source} may connect to the proxy port {spec.proxy_port}"),
                family=family,
                kind="proxy",
            )
        )
    return rules


# --- priorities and the deny rule -------------------------------------------------------------------------------


def _assign_priorities(
    spec: EgressSpec,
    rules: list[PlannedRule],
    used: Mapping[str, Iterable[int]],
    current: Mapping[str, int],
    earlier: Mapping[str, tuple[str, int]],
) -> list[PlannedRule]:
    stop = spec.deny_priority if spec.deny_internet else limits.MAX_PRIORITY + 1
    out: list[PlannedRule] = []
    for direction in ("Outbound", "Inbound"):
        group = [r for r in rules if r.direction == direction]
        if not group:
            continue
        taken = set(used.get(direction, ()))
        if spec.deny_internet and direction == "Outbound":
            taken.add(spec.deny_priority)
        names = {r.name for r in group}
        before = {n: p for n, (d, p) in earlier.items() if d == direction}
        numbers = allocate(
            len(group),
            start=spec.priority_start,
            stop=stop,
            used=taken,
            preferred=[current.get(r.name, before.get(r.name)) for r in group],
            held=[p for n, p in before.items() if n not in names],
        )
        out.extend(replace(r, priority=n) for r, n in zip(group, numbers, strict=True))
    return out


def _deny_rule(spec: EgressSpec, used: Mapping[str, Iterable[int]]) -> PlannedRule:
    if spec.deny_priority in set(used.get("Outbound", ())):
        raise RuleError(
            f"priority {spec.deny_priority} for the deny-Internet rule is held by another outbound rule; "
            "free it or set a different deny priority."
        )
    return PlannedRule(
        name=_name(spec, "deny-internet"),
        direction="Outbound",
        access="Deny",
        protocol="*",
        source=("*",),
        destination=("Internet",),
        destination_ports=("*",),
        description=_describe("deny Internet below the egress allows"),
        priority=spec.deny_priority,
        kind="deny",
    )
