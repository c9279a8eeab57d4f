"""The allow-list formats: a literal table of format -> generator, file suffix and whether it splits per family.

Generators only build strings (text formats through templates with explicit quoting, structured ones through
serializers); `target.py` writes them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass

from egress.errors import RuleError, UsageError
from egress.places.allowlist import limits
from egress.places.allowlist.model import ExportSet
from egress.render.header import Header

DEFAULT_NFT_TABLE = "egress"


@dataclass(frozen=True, slots=True)
class Options:
    """Format-specific settings (validated by `check_options`)."""

    nft_table: str = DEFAULT_NFT_TABLE


Generator = Callable[[ExportSet, Header, Options], str]


def render(name: str, **context: object) -> str:
    """A text template; Jinja is imported only by the formats that use one (not csv, json, aerleon)."""
    from egress.render.templates import render as render_template

    return render_template(name, **context)


def edl(export: ExportSet, header: Header, options: Options) -> str:
    """PAN-OS External Dynamic List (IP list). Palo Alto's formatting guidelines allow a comment only on an entry's
    own line, after a space; a line that is only a comment is not in the format. So the header's three lines ride
    on the first entries (the last entry takes what is left), and an empty list carries none."""
    lines = header.lines()
    rows = []
    last = len(export.entries) - 1
    for index, entry in enumerate(export.entries):
        if index >= len(lines):
            comment = ""
        elif index == last:
            comment = " | ".join(lines[index:])
        else:
            comment = lines[index]
        rows.append({"prefix": entry.prefix, "comment": comment})
    return render("allowlist/edl.txt.j2", entries=rows)


def _set_name(export: ExportSet, version: int) -> str:
    return f"{export.name}_v{version}"


def nftables(export: ExportSet, header: Header, options: Options) -> str:
    """Named interval sets, one per family, in `table inet <nft_table>`. nft refuses overlapping elements in an
    interval set, so the elements are always the exact merge of the prefixes (the same addresses)."""
    from egress.core.cidrs import merge_prefixes

    sets = [
        {
            "name": _set_name(export, v),
            "type": "ipv4_addr" if v == 4 else "ipv6_addr",
            "prefixes": merge_prefixes(export.prefixes(v)),
        }
        for v in export.versions
    ]
    return render("allowlist/nftables.nft.j2", header=header.comment("#"), table=options.nft_table, sets=sets)


def _maxelem(count: int) -> int:
    size = limits.IPSET_DEFAULT_MAXELEM
    while size < count:
        size *= 2
    return size


def ipset(export: ExportSet, header: Header, options: Options) -> str:
    """`ipset restore` input: hash:net sets per family, filled under a temporary name and swapped in."""
    sets = []
    for v in export.versions:
        prefixes = export.prefixes(v)
        if any(p.endswith("/0") for p in prefixes):
            raise RuleError("ipset hash:net cannot hold a /0 prefix: raise --max-prefixes.")
        sets.append(
            {
                "name": _set_name(export, v),
                "family": "inet" if v == 4 else "inet6",
                "hashsize": limits.IPSET_DEFAULT_HASHSIZE,
                "maxelem": _maxelem(len(prefixes)),
                "prefixes": prefixes,
            }
        )
    return render("allowlist/ipset.j2", header=header.comment("#"), sets=sets)


def squid(export: ExportSet, header: Header, options: Options) -> str:
    """A list for squid's `acl NAME dst "FILE"` (squid skips `#` lines in ACL files). squid warns about and drops
    entries inside others, so the list is the exact merge of the prefixes (the same addresses)."""
    from egress.core.cidrs import merge_prefixes

    prefixes = merge_prefixes(export.prefixes())
    return render("allowlist/squid.txt.j2", header=header.comment("#"), acl=export.name, prefixes=prefixes)


def _yaml_scalar(value: str) -> str:
    # A JSON string is a YAML double-quoted scalar: every value is quoted, nothing is left to YAML's typing.
    return json.dumps(value, ensure_ascii=True)


def _comment(entry_sources: tuple) -> str:
    return ", ".join(
        f"{s.tag} cn{s.change_number}" if s.change_number is not None else s.tag for s in entry_sources
    )


def aerleon(export: ExportSet, header: Header, options: Options) -> str:
    """aerleon network definitions (its YAML `networks:` format) with one network, the name upper-cased; each
    address carries its tags as aerleon's comment. Emitted by a small serializer: fixed shape, quoted scalars."""
    token = export.name.upper()
    lines = [header.comment("#").rstrip("\n"), "networks:", f"  {token}:", "    values:"]
    for entry in export.entries:
        lines.append(f"      - address: {_yaml_scalar(entry.prefix)}")
        lines.append(f"        comment: {_yaml_scalar(_comment(entry.sources))}")
    return "\n".join(lines) + "\n"


CSV_COLUMNS = ("prefix", "family", "tag", "region", "changeNumber")


def csv_text(export: ExportSet, header: Header, options: Options) -> str:
    """RFC 4180 CSV, one row per prefix and tag. CSV has no comment syntax, so no header (the JSON has one)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for prefix, family, tag, region, change in export.rows():
        writer.writerow([prefix, family, tag, region, "" if change is None else change])
    return out.getvalue()


def json_text(export: ExportSet, header: Header, options: Options) -> str:
    doc = {
        "_generator": header.metadata(),
        "name": export.name,
        "family": export.family,
        "merged": export.merged,
        "maxPrefixes": export.max_prefixes,
        "extraAddresses": {"ipv4": export.extra_ipv4, "ipv6": export.extra_ipv6},
        "cloud": export.provenance.cloud,
        "tags": [t.to_json() for t in export.tags],
        "count": len(export.entries),
        "prefixes": [
            {"prefix": p, "family": f, "tag": t, "region": r, "changeNumber": c}
            for p, f, t, r, c in export.rows()
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


@dataclass(frozen=True, slots=True)
class Format:
    name: str
    suffix: str
    generate: Generator
    per_family: bool  # may be split into a file per family (the list formats)


FORMATS: dict[str, Format] = {
    "edl": Format("edl", ".txt", edl, per_family=True),
    "nftables": Format("nftables", ".nft", nftables, per_family=False),
    "ipset": Format("ipset", ".ipset", ipset, per_family=False),
    "aerleon": Format("aerleon", ".yaml", aerleon, per_family=False),
    "squid": Format("squid", ".txt", squid, per_family=True),
    "csv": Format("csv", ".csv", csv_text, per_family=False),
    "json": Format("json", ".json", json_text, per_family=False),
}


def export_format(name: str) -> Format:
    key = name.strip().lower() if isinstance(name, str) else ""
    if key not in FORMATS:
        raise UsageError(f"unknown export format {name!r}: use one of {', '.join(FORMATS)}.")
    return FORMATS[key]


def check_options(fmt: Format, options: Options, *, per_family: bool) -> Options:
    if not limits.NFT_TABLE.match(options.nft_table):
        raise UsageError(
            f"nft table {options.nft_table!r}: use letters, digits and `_`, starting with a letter."
        )
    if options.nft_table != DEFAULT_NFT_TABLE and fmt.name != "nftables":
        raise UsageError("--nft-table applies to --format nftables only.")
    if per_family and not fmt.per_family:
        splits = ", ".join(f.name for f in FORMATS.values() if f.per_family)
        raise UsageError(
            f"a file per family applies to {splits}; {fmt.name} keeps both families in one file."
        )
    return options


def generate(fmt: Format, export: ExportSet, header: Header, options: Options) -> str:
    return fmt.generate(export, header, options)


def notes(fmt: Format, export: ExportSet) -> list[str]:
    """Warnings about a list the firewall may not take whole."""
    out = []
    if fmt.name == "edl" and len(export.entries) > limits.EDL_MAX_IP_ENTRIES_SMALLEST_MODEL:
        out.append(
            f"{len(export.entries):,} entries: more than the {limits.EDL_MAX_IP_ENTRIES_SMALLEST_MODEL:,} EDL IP "
            "entries the smallest PAN-OS models hold in total; such a firewall skips the rest (use --max-prefixes)."
        )
    if export.extra_ipv4 or export.extra_ipv6:
        out.append(
            f"--max-prefixes {export.max_prefixes}: the list also admits {export.extra_ipv4:,} IPv4 and "
            f"{export.extra_ipv6:,} IPv6 addresses outside the tags."
        )
    return out
