"""`egress proxy ...`: files for the guide's proxy option (guest VM settings, the proxy server itself)."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer

from egress import __version__
from egress.cli import app
from egress.cli.common import emit_files, note, out_folder
from egress.errors import UsageError

proxy_app = typer.Typer(
    help="Files for the HTTP-proxy option: proxy settings for protected VMs and the proxy server's config.",
    no_args_is_help=True,
)
app.add_typer(proxy_app, name="proxy")


OSES = ("linux", "windows")
# Options are plain strings validated here, so any bad value gets the same one-line `Error:` (exit 2).
OS_OPTION = typer.Option(..., "--os", metavar="linux|windows", help="Operating system the files are for.")
OUT_OPTION = typer.Option(
    None,
    "--out",
    help="Folder to write the files into (only changed files are rewritten). Default: print them.",
)


def _os(value: str) -> str:
    key = value.strip().lower()
    if key not in OSES:
        raise UsageError(f"unknown --os {value!r}: use linux or windows.")
    return key


def _command(words: list[str], out: Path | None) -> str:
    if out is not None:
        words = [*words, "--out", str(out)]
    return shlex.join(words)


def _warn_open(networks: tuple[str, ...], listen_port: int) -> None:
    """Generated all the same (a lab may want it), but said once: the NSG is then all that guards the proxy."""
    import ipaddress

    everyone = [n for n in networks if ipaddress.ip_network(n).prefixlen == 0]
    if everyone:
        note(
            f"--allow-from {' and '.join(everyone)} lets any address use the proxy: it is open to the Internet "
            f"if its NSG allows inbound port {listen_port}; give the protected VMs' VNet or subnet instead."
        )


@proxy_app.command("guest")
def guest(
    os_option: str = OS_OPTION,
    proxy: str = typer.Option(..., "--proxy", help="Proxy address as IP:PORT, e.g. 10.0.0.5:3128."),
    no_proxy: list[str] = typer.Option(
        [], "--no-proxy", help="Extra address, CIDR or domain to reach directly (repeatable)."
    ),
    out_option: str | None = OUT_OPTION,
) -> None:
    """Proxy settings for a protected VM (Linux: environment, waagent, systemd, apply script; Windows: ps1)."""
    from egress.render.header import Header
    from egress.render.proxy_guest import DEFAULT_NO_PROXY, guest_files, guest_modes, guest_proxy

    os_name = _os(os_option)
    out = out_folder(out_option)
    settings = guest_proxy(proxy, no_proxy)
    words = ["egress", "proxy", "guest", "--os", os_name, "--proxy", settings.hostport]
    for entry in settings.no_proxy:
        if entry not in DEFAULT_NO_PROXY:
            words += ["--no-proxy", entry]
    header = Header(
        tool_version=__version__,
        provenance=f"proxy {settings.hostport} from the command line (no service-tag data)",
        command=_command(words, out),
    )
    files = guest_files(os_name, settings, header)
    emit_files(files, out, guest_modes(files))


@proxy_app.command("server")
def server(
    os_option: str = OS_OPTION,
    port_option: str = typer.Option(..., "--port", help="Port the proxy listens on, e.g. 3128."),
    allow_from: list[str] = typer.Option(
        ..., "--allow-from", help="Client network allowed to use the proxy, e.g. 10.0.0.0/16 (repeatable)."
    ),
    fqdns: str | None = typer.Option(
        None,
        "--fqdns",
        help="'backup' (Azure Backup, Storage and Entra ID names of --cloud) or a file with one name per line. "
        "Linux only; default: backup.",
    ),
    cloud: str | None = typer.Option(
        None,
        "--cloud",
        metavar="CLOUD",
        help="public | usgov | china: cloud of the built-in list (default public).",
    ),
    out_option: str | None = OUT_OPTION,
) -> None:
    """The proxy server's configuration (Linux: squid.conf + nftables.conf; Windows: firewall.ps1)."""
    from egress.core import fqdns as fqdn_lists
    from egress.core.values import port
    from egress.render.header import Header
    from egress.render.proxy_server import proxy_server, server_files

    os_name = _os(os_option)
    out = out_folder(out_option)
    listen_port = port(port_option)
    if os_name == "windows" and (fqdns is not None or cloud is not None):
        raise UsageError("--fqdns and --cloud configure squid: use them with --os linux only.")
    source = fqdns if fqdns is not None else fqdn_lists.BUILTIN_LIST
    cloud_key = (cloud or "public").strip().lower()
    fqdn_lists.builtin(cloud_key)  # validates --cloud even when a file is given
    words = ["egress", "proxy", "server", "--os", os_name, "--port", str(listen_port)]
    if os_name == "windows":
        patterns: tuple[str, ...] = ()
        provenance = "proxy port and client networks from the command line"
    elif source == fqdn_lists.BUILTIN_LIST:
        patterns = fqdn_lists.builtin(cloud_key)
        provenance = f"egress built-in Azure Backup FQDN list, {cloud_key} cloud"
        words += ["--fqdns", source, "--cloud", cloud_key]
    else:
        if cloud is not None:
            raise UsageError("--cloud selects the built-in list: drop it when --fqdns names a file.")
        import hashlib

        from egress.adapters.files import read_text

        text = read_text(Path(source), what="FQDN list")
        patterns = fqdn_lists.parse_list(text, source)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        provenance = f"FQDN list {source} (sha256 {digest})"
        words += ["--fqdns", source]
    settings = proxy_server(listen_port, allow_from, patterns)
    _warn_open(settings.allow_from, listen_port)
    for network in settings.allow_from:
        words += ["--allow-from", network]
    header = Header(tool_version=__version__, provenance=provenance, command=_command(words, out))
    emit_files(server_files(os_name, settings, header), out)
