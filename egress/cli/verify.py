"""`egress verify` and `egress lint`: is this traffic allowed, by which rule, and what is wrong with the NSG."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

from egress.cli import app
from egress.cli.common import ARM_ENDPOINT_OPTION, AUTH_OPTION, CLOUD_OPTION, DATA_OPTION, auth_method, load
from egress.errors import ExitCode, UsageError

if TYPE_CHECKING:  # the core is imported by the command that runs, keeping `egress --help` light
    from egress.core.lint_report import LintReport
    from egress.core.model import Provenance
    from egress.places.nsg.evaluate import Evaluation, Part, Query, TagCheck
    from egress.places.nsg.model import Nsg

TARGET_OPTION = typer.Option(
    None,
    "--target",
    help="NSG to check: azure:/subscriptions/.../networkSecurityGroups/NAME, a JSON file (PATH or "
    "file:PATH), or - for stdin.",
)
NSG_OPTION = typer.Option(
    None, "--nsg", help="JSON file of the NSG (REST GET or `az network nsg show -o json`)."
)
VNET_OPTION = typer.Option(
    None,
    "--vnet",
    help="VNet address space for VirtualNetwork (repeatable; include peered and on-prem ranges). "
    "Default: the RFC 1918 ranges (lint: see --ip-version).",
)
OUTPUT_OPTION = typer.Option("text", "--output", "-o", help="text | json.")
DEFAULT_PORT = 443  # HTTPS: what Azure Backup and its storage and Entra ID endpoints use


def _read_nsg(
    target: str | None,
    nsg_file: str | None,
    *,
    cloud: str = "public",
    auth: str = "default",
    arm_endpoint: str | None = None,
) -> tuple[Nsg, str]:
    from egress.places.nsg.read import read_target

    if (target is None) == (nsg_file is None):
        raise UsageError("give exactly one of --target TARGET or --nsg FILE.")
    name = target if target is not None else nsg_file
    assert name is not None
    return read_target(name, cloud=cloud, auth=auth, arm_endpoint=arm_endpoint), name


def _output(value: str) -> str:
    value = value.strip().lower()
    if value not in ("text", "json"):
        raise UsageError(f"--output {value!r}: use text or json.")
    return value


def _split_dest(dest: str) -> tuple[str, int | None]:
    """`IP`, `IP:PORT`, `[IPv6]:PORT`, `IPv6`, or a CIDR prefix -> (address, port or None)."""
    value = dest.strip()
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise UsageError(f"--dest {dest!r}: write an IPv6 address with a port as [ADDRESS]:PORT.")
        return host, _port_text(rest[1:], dest) if rest else None
    if value.count(":") == 1:
        host, _, port = value.partition(":")
        return host, _port_text(port, dest)
    return value, None


def _check_dest(host: str, dest: str) -> None:
    from egress.core.addrset import parse_network

    try:
        parse_network(host)
    except ValueError as exc:
        raise UsageError(f"--dest {dest!r}: {exc}; for a service tag use --dest-tag.") from None


def _port_text(text: str, dest: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise UsageError(f"--dest {dest!r}: the port must be a number from 0 to 65535.")
    return int(text)


def _port(dest_port: int | None, port: int | None, protocol: str) -> int | None:
    if dest_port is not None and port is not None and dest_port != port:
        raise UsageError(f"--dest gives port {dest_port} but --port gives {port}; give one.")
    chosen = dest_port if dest_port is not None else port
    if chosen is not None and not 0 <= chosen <= 65535:
        raise UsageError(f"--port {chosen}: use a number from 0 to 65535.")
    from egress.core.addrset import PORTED_PROTOCOLS, protocol_set

    if not protocol_set(protocol) & PORTED_PROTOCOLS:
        if chosen is not None:
            raise UsageError(f"{protocol} carries no ports; drop the port.")
        return None
    return DEFAULT_PORT if chosen is None else chosen


def _protocol(value: str) -> str:
    from egress.core.addrset import canonical_protocol

    try:
        return canonical_protocol(value)
    except ValueError as exc:
        raise UsageError(f"--protocol {exc}.") from None


def _data_line(provenance: Provenance) -> str:
    date = provenance.file_date or "unknown date"
    change = f", change {provenance.change_number}" if provenance.change_number is not None else ""
    return f"{provenance.cloud} service tags of {date}{change} ({provenance.source})"


def _part_dict(part: Part) -> dict[str, Any]:
    return {
        "access": part.access,
        "rule": part.rule_name,
        "priority": part.priority,
        "default": part.default,
        "protocols": list(part.protocols),
        "sources": list(part.sources),
        "sourcePorts": list(part.source_ports),
        "destinations": list(part.destinations),
        "destinationPorts": list(part.destination_ports),
        "destinationAddresses": part.destination_addresses,
    }


def _rule_label(part: Part) -> str:
    if part.rule is None:
        return "no rule (unmatched traffic is dropped)"
    kind = "default rule" if part.default else "rule"
    return f"{kind} {part.rule_name} (priority {part.priority})"


def _ports_text(part: Part) -> str:
    ported = any(p in ("Tcp", "Udp", "*") for p in part.protocols)
    return f" port {', '.join(part.destination_ports)}" if ported else ""


def _source_ports_text(part: Part) -> str:
    return "" if part.source_ports == ("*",) else f" source port {', '.join(part.source_ports)}"


def _expect(expect: str | None) -> str | None:
    if expect is None:
        return None
    value = expect.strip().lower()
    if value not in ("allow", "deny"):
        raise UsageError(f"--expect {expect!r}: use allow or deny.")
    return value


def _as_expected(expect: str | None, allowed: bool, denied: bool) -> bool | None:
    if expect is None:
        return None
    return allowed if expect == "allow" else denied


def _warn_skipped(skipped: tuple[str, ...]) -> None:
    if skipped:
        typer.echo(
            f"warning: rules {', '.join(skipped)} use application security groups, which egress cannot "
            "resolve offline; they were ignored.",
            err=True,
        )


@app.command("verify")
def verify(
    target: str | None = TARGET_OPTION,
    nsg_file: str | None = NSG_OPTION,
    dest: str | None = typer.Option(None, "--dest", help="Destination IP[:PORT] (or a CIDR prefix)."),
    dest_tag: str | None = typer.Option(None, "--dest-tag", help="Check every prefix of this service tag."),
    protocol: str = typer.Option("Tcp", "--protocol", help="Tcp | Udp | Icmp | Esp | Ah | * (any)."),
    source: str | None = typer.Option(
        None, "--source", help="Source IP or prefix. Default: the --vnet ranges (Outbound), * (Inbound)."
    ),
    source_port: int | None = typer.Option(None, "--source-port", help="Source port. Default: any."),
    direction: str = typer.Option("Outbound", "--direction", help="Outbound | Inbound."),
    expect: str | None = typer.Option(
        None, "--expect", help="allow | deny: exit 1 unless the result matches."
    ),
    port: int | None = typer.Option(None, "--port", help=f"Destination port. Default: {DEFAULT_PORT}."),
    summary: bool = typer.Option(
        False, "--summary", help="--dest-tag: counts per deciding rule only, without the prefix lists."
    ),
    vnet: list[str] | None = VNET_OPTION,
    data: str | None = DATA_OPTION,
    cloud: str | None = CLOUD_OPTION,
    output: str = OUTPUT_OPTION,
    auth: str = AUTH_OPTION,
    arm_endpoint: str | None = ARM_ENDPOINT_OPTION,
    place_name: str = typer.Option("nsg", "--place", help="What --target is: nsg | route-table."),
) -> None:
    """Evaluate traffic against an NSG as Azure does and print the verdict and the deciding rule (with
    --place route-table: the route the destination takes)."""
    from egress.places import get_place
    from egress.places.nsg.evaluate import DEFAULT_VNET, Query, check_tag, evaluate_space

    fmt = _output(output)
    auth = auth_method(auth)
    place = get_place(place_name)
    if place.own_verify:
        if target is None or nsg_file is not None or dest is None or dest_tag is not None:
            raise UsageError(f"--place {place.name}: give --target and --dest (an address or prefix).")
        dataset = load(data, cloud)
        answer, ok = place.verify(
            target,
            dataset,
            dest,
            tuple(vnet or ()),
            expect,
            cloud=cloud or "public",
            auth=auth,
            arm_endpoint=arm_endpoint,
        )
        lines = answer.pop("lines")
        if fmt == "json":
            typer.echo(json.dumps({**answer, "data": dataset.provenance.to_dict()}, indent=2))
        else:
            typer.echo("\n".join([*lines, f"Data:        {_data_line(dataset.provenance)}"]))
        if ok is False:
            raise typer.Exit(int(ExitCode.ERROR))
        return
    wanted = _expect(expect)
    proto = _protocol(protocol)
    if (dest is None) == (dest_tag is None):
        raise UsageError("give exactly one of --dest IP[:PORT] or --dest-tag TAG.")
    if summary and dest_tag is None:
        raise UsageError("--summary applies to --dest-tag (a single --dest prints one verdict already).")
    if source_port is not None and not 0 <= source_port <= 65535:
        raise UsageError(f"--source-port {source_port}: use a number from 0 to 65535.")
    dest_host, dest_port = _split_dest(dest) if dest is not None else ("", None)
    if dest is not None:
        _check_dest(dest_host, dest)
    chosen_port = _port(dest_port, port, proto)
    vnet_prefixes = tuple(vnet) if vnet else DEFAULT_VNET
    nsg, name = _read_nsg(target, nsg_file, cloud=cloud or "public", auth=auth, arm_endpoint=arm_endpoint)
    dataset = load(data, cloud)
    provenance = dataset.provenance
    if dest_tag is not None:
        result = check_tag(
            nsg, dataset, dest_tag, chosen_port, proto, source, direction=direction, vnet=vnet_prefixes
        )
        _warn_skipped(result.skipped)
        ok = _as_expected(wanted, result.all_allowed, result.all_denied)
        if fmt == "json":
            doc = _tag_json(nsg, name, result, wanted, ok, provenance)
            typer.echo(json.dumps(_summarised(doc) if summary else doc, indent=2))
        else:
            _print_tag(nsg, name, result, wanted, ok, provenance, summary=summary)
    else:
        query = Query(
            destinations=(dest_host,),
            destination_ports=(str(chosen_port),) if chosen_port is not None else ("*",),
            protocol=proto,
            direction=direction,
            sources=(source,) if source is not None else None,
            source_ports=(str(source_port),) if source_port is not None else ("*",),
        )
        evaluation = evaluate_space(nsg, query, dataset, vnet=vnet_prefixes)
        if not evaluation.parts:
            raise UsageError(
                "source and destination share no address family (IPv4 vs IPv6); nothing to check."
            )
        _warn_skipped(evaluation.skipped)
        ok = _as_expected(wanted, evaluation.allowed, evaluation.denied)
        if fmt == "json":
            typer.echo(json.dumps(_flow_json(nsg, name, query, evaluation, wanted, ok, provenance), indent=2))
        else:
            _print_flow(nsg, name, query, evaluation, wanted, ok, provenance, vnet_prefixes)
    if ok is False:
        raise typer.Exit(int(ExitCode.ERROR))


def _verdict_word(allowed: bool, denied: bool) -> str:
    return "Allow" if allowed else ("Deny" if denied else "mixed")


def _flow_json(
    nsg: Nsg,
    name: str,
    query: Query,
    evaluation: Evaluation,
    wanted: str | None,
    ok: bool | None,
    provenance: Provenance,
) -> dict[str, Any]:
    return {
        "nsg": nsg.name,
        "target": name,
        "direction": evaluation.direction,
        "protocol": query.protocol,
        "destination": query.destinations[0],
        "destinationPort": query.destination_ports[0],
        "source": query.sources[0] if query.sources else None,
        "verdict": _verdict_word(evaluation.allowed, evaluation.denied),
        "parts": [_part_dict(p) for p in evaluation.parts],
        "skipped": list(evaluation.skipped),
        "expect": wanted,
        "asExpected": ok,
        "data": provenance.to_dict(),
    }


def _print_flow(
    nsg: Nsg,
    name: str,
    query: Query,
    evaluation: Evaluation,
    wanted: str | None,
    ok: bool | None,
    provenance: Provenance,
    vnet: tuple[str, ...],
) -> None:
    if query.sources:
        sources = ", ".join(query.sources)
    else:
        sources = "VNet " + ", ".join(vnet) if evaluation.direction == "Outbound" else "*"
    port = f" port {query.destination_ports[0]}" if query.destination_ports != ("*",) else ""
    typer.echo(f"NSG:      {nsg.name or '(unnamed)'} ({name})")
    typer.echo(
        f"Flow:     {evaluation.direction} {query.protocol} from {sources} to {query.destinations[0]}{port}"
    )
    verdict = evaluation.verdict()
    if verdict is not None:
        typer.echo(f"Verdict:  {verdict.access}, by {_rule_label(evaluation.parts[0])}")
    else:
        word = _verdict_word(evaluation.allowed, evaluation.denied)
        typer.echo(f"Verdict:  {word}: {len(evaluation.rules)} rules decide different parts")
        for part in evaluation.parts:
            typer.echo(
                f"  {part.access:<5} by {_rule_label(part)}: {', '.join(part.protocols)} "
                f"from {', '.join(part.sources)}{_source_ports_text(part)} "
                f"to {', '.join(part.destinations)}{_ports_text(part)}"
            )
    _print_expect(wanted, ok)
    typer.echo(f"Data:     {_data_line(provenance)}")


def _print_expect(wanted: str | None, ok: bool | None) -> None:
    if wanted is not None:
        typer.echo(f"Expected: {wanted} — {'as expected' if ok else 'NOT as expected'}")


def _tag_json(
    nsg: Nsg, name: str, result: TagCheck, wanted: str | None, ok: bool | None, provenance: Provenance
) -> dict[str, Any]:
    return {
        "nsg": nsg.name,
        "target": name,
        "tag": result.tag,
        "direction": result.direction,
        "protocol": result.protocol,
        "port": result.port,
        "sources": list(result.sources),
        "prefixes": len(result.prefixes),
        "verdict": _verdict_word(result.all_allowed, result.all_denied),
        "allowed": [_part_dict(p) for p in result.allowed],
        "denied": [_part_dict(p) for p in result.denied],
        "unchecked": list(result.unchecked),
        "skipped": list(result.skipped),
        "expect": wanted,
        "asExpected": ok,
        "data": provenance.to_dict(),
    }


def _summarised(doc: dict[str, Any]) -> dict[str, Any]:
    """--summary: each part's prefix list becomes its count; the unchecked prefixes too."""
    out = dict(doc)
    for key in ("allowed", "denied"):
        out[key] = [
            {
                **{k: v for k, v in part.items() if k != "destinations"},
                "destinationPrefixes": len(part["destinations"]),
            }
            for part in doc[key]
        ]
    out["unchecked"] = len(doc["unchecked"])
    return out


def _print_tag(
    nsg: Nsg,
    name: str,
    result: TagCheck,
    wanted: str | None,
    ok: bool | None,
    provenance: Provenance,
    *,
    summary: bool = False,
) -> None:
    port = f" port {result.port}" if result.port is not None else ""
    typer.echo(f"NSG:      {nsg.name or '(unnamed)'} ({name})")
    typer.echo(
        f"Check:    {result.direction} {result.protocol}{port} from {', '.join(result.sources)} "
        f"to every prefix of {result.tag} ({len(result.prefixes)} prefixes)"
    )
    typer.echo(f"Verdict:  {_verdict_word(result.all_allowed, result.all_denied)}")
    total = sum(p.destination_addresses for p in result.parts)
    for title, parts in (("Allowed", result.allowed), ("Denied", result.denied)):
        count = sum(p.destination_addresses for p in parts)
        typer.echo(f"{title + ':':<9} {count} of {total} addresses" if parts else f"{title + ':':<9} none")
        for part in parts:
            extra = ""
            if len(result.parts) > 1 and (
                part.protocols != (result.protocol,) or part.sources != result.sources
            ):
                extra = f" ({', '.join(part.protocols)} from {', '.join(part.sources)})"
            if len(result.parts) == 1:
                typer.echo(f"  by {_rule_label(part)}: all of them{extra}")
                continue
            if summary:
                count = len(part.destinations)
                typer.echo(
                    f"  by {_rule_label(part)}{extra}: {count} prefix{'es' if count != 1 else ''}, "
                    f"{part.destination_addresses} addresses"
                )
                continue
            typer.echo(f"  by {_rule_label(part)}{extra}:")
            for prefix in part.destinations:
                typer.echo(f"    {prefix}")
    if result.unchecked:
        listed = "" if summary else f": {', '.join(result.unchecked)}"
        typer.echo(
            f"Unchecked: {len(result.unchecked)} prefixes of a family no source has "
            f"(give --source or --vnet in that family){listed}"
        )
    _print_expect(wanted, ok)
    typer.echo(f"Data:     {_data_line(provenance)}")


@app.command("lint")
def lint_command(
    target: str | None = TARGET_OPTION,
    nsg_file: str | None = NSG_OPTION,
    vnet: list[str] | None = VNET_OPTION,
    ip_version: str = typer.Option(
        "both",
        "--ip-version",
        metavar="4|6|both",
        help="Families the VNet has when --vnet is not given, as `egress plan --ip-version` (default both: "
        "the RFC 1918 ranges and IPv6 fc00::/7).",
    ),
    data: str | None = DATA_OPTION,
    cloud: str | None = CLOUD_OPTION,
    output: str = OUTPUT_OPTION,
    auth: str = AUTH_OPTION,
    arm_endpoint: str | None = ARM_ENDPOINT_OPTION,
    place_name: str = typer.Option(
        "nsg", "--place", help="What --target is: nsg | route-table | firewall-policy."
    ),
) -> None:
    """Find rules that never match, allows under a deny, over-wide allows, and Azure limit usage (NSG); routes
    or firewall rules naming tags Azure refuses there (route table, firewall policy).

    Exits 1 when there is an error-level finding.
    """
    from egress.places import get_place
    from egress.places.nsg.evaluate import DEFAULT_VNET
    from egress.places.nsg.lint import lint

    if ip_version not in ("4", "6", "both"):
        raise UsageError(f"--ip-version must be 4, 6 or both, not {ip_version!r}.")
    fmt = _output(output)
    auth = auth_method(auth)
    place = get_place(place_name)
    if place.own_lint:
        if target is None or nsg_file is not None:
            raise UsageError(
                f"--place {place.name}: give the {place.title} with --target (a JSON file or azure: id)."
            )
        dataset = load(data, cloud)
        name, items, report = place.lint(
            target, dataset, cloud=cloud or "public", auth=auth, arm_endpoint=arm_endpoint
        )
        _print_place_lint(fmt, place.title, name, target, items, report, dataset.provenance)
        if report.errors:
            raise typer.Exit(int(ExitCode.ERROR))
        return
    nsg, name = _read_nsg(target, nsg_file, cloud=cloud or "public", auth=auth, arm_endpoint=arm_endpoint)
    dataset = load(data, cloud)
    report = lint(nsg, dataset, vnet=tuple(vnet) if vnet else _default_vnet(ip_version, DEFAULT_VNET))
    if fmt == "json":
        typer.echo(json.dumps(_lint_json(nsg, name, report, dataset.provenance), indent=2))
    else:
        _print_lint(nsg, name, report, dataset.provenance)
    if report.errors:
        raise typer.Exit(int(ExitCode.ERROR))


# IPv6's private space (unique local addresses), the counterpart of RFC 1918 for a dual-stack VNet.
IPV6_PRIVATE = ("fc00::/7",)


def _default_vnet(ip_version: str, ipv4: tuple[str, ...]) -> tuple[str, ...]:
    """VirtualNetwork without --vnet: lint assumes the families egress plans for by default (both)."""
    return {"4": ipv4, "6": IPV6_PRIVATE, "both": ipv4 + IPV6_PRIVATE}[ip_version]


def _lint_json(nsg: Nsg, name: str, report: LintReport, provenance: Provenance) -> dict[str, Any]:
    return {
        "nsg": nsg.name,
        "target": name,
        "findings": [f.to_dict() for f in report.findings],
        "limits": [u.to_dict() for u in report.limits],
        "data": provenance.to_dict(),
    }


def _print_lint(nsg: Nsg, name: str, report: LintReport, provenance: Provenance) -> None:
    typer.echo(f"NSG:      {nsg.name or '(unnamed)'} ({name}), {len(nsg.rules)} custom rules")
    shown = [f for f in report.findings if not (f.code == "limit" and f.severity == "info")]
    for finding in shown:
        where = f"{finding.direction} {finding.priority} {finding.rule}: " if finding.rule else ""
        typer.echo(f"{finding.severity:<8} {finding.code:<17} {where}{finding.message}")
    if not shown:
        typer.echo("No findings.")
    usage = ", ".join(f"{u.name} {u.used}/{u.limit} ({u.percent:g}%)" for u in report.limits)
    typer.echo(f"Limits:   {usage}")
    typer.echo(f"Data:     {_data_line(provenance)}")


def _print_place_lint(
    fmt: str, title: str, name: str, target: str, items: int, report: LintReport, provenance: Provenance
) -> None:
    if fmt == "json":
        doc = {
            "resource": name,
            "target": target,
            "findings": [f.to_dict() for f in report.findings],
            "limits": [u.to_dict() for u in report.limits],
            "data": provenance.to_dict(),
        }
        typer.echo(json.dumps(doc, indent=2))
        return
    typer.echo(f"{title[0].upper() + title[1:]}: {name or '(unnamed)'} ({target}), {items} items")
    for finding in report.findings:
        where = f"{finding.rule}: " if finding.rule else ""
        typer.echo(f"{finding.severity:<8} {finding.code:<17} {where}{finding.message}")
    if not report.findings:
        typer.echo("No findings.")
    usage = ", ".join(f"{u.name} {u.used}/{u.limit} ({u.percent:g}%)" for u in report.limits)
    typer.echo(f"Limits:   {usage}")
    typer.echo(f"Data:     {_data_line(provenance)}")
