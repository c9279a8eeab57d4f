"""Hostile and malformed inputs: one `Error: ...` line on stderr, the documented exit code, nothing on stdout.

Each case is a path, value or file a user could really type or hand over by mistake: names longer than the
filesystem allows, devices that never end (/dev/zero), compressed files that unpack to gigabytes.
"""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egress.cli import app

runner = CliRunner()
LONG = "a" * 300  # over NAME_MAX (255): every OS call on it fails with ENAMETOOLONG
SERVER = ["proxy", "server", "--os", "linux", "--port", "3128", "--allow-from", "10.0.0.0/16"]


def _data(shared: Path) -> str:
    return str(shared / "servicetags" / "ServiceTags_Public_20250127.json")


def _one_error(result, code: int, needle: str) -> None:  # type: ignore[no-untyped-def]
    assert "Traceback" not in result.stderr, result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == code, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("Error: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert needle in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["plan", "--region", "eastus", "--data", LONG], 1, "File name too long"),
        (["ranges", "diff", LONG, LONG], 1, "File name too long"),
        (["ranges", "show", "AzureBackup", "--data", f"./{LONG}"], 1, "File name too long"),
        (["verify", "--nsg", LONG, "--dest", "20.60.1.5"], 1, "File name too long"),
        (["lint", "--target", LONG], 1, "File name too long"),
        (["apply", "--target", LONG, "--region", "eastus", "--dry-run"], 1, "File name too long"),
        (["render", "-f", "arm", "--region", "eastus", "--out", LONG], 2, "File name too long"),
        (["proxy", "guest", "--os", "linux", "--proxy", "10.0.0.5:3128", "--out", LONG], 2, "too long"),
        (
            [*SERVER, "--fqdns", LONG],
            2,
            "File name too long",
        ),
    ],
)
def test_a_path_too_long_is_one_error_line(
    args: list[str],
    code: int,
    needle: str,
    shared_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    if args[0] in ("verify", "lint", "apply", "render"):
        args = [*args, "--data", _data(shared_data)]  # the bundled data would add its notice on stderr
    result = runner.invoke(app, args)
    _one_error(result, code, needle)
    assert list(tmp_path.iterdir()) == []  # nothing written, no folder half-made


def test_schedule_out_too_long(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("r.toml").write_text(f'[[targets]]\nname = "a"\ntarget = "{tmp_path / "nsg.json"}"\n')
    result = runner.invoke(app, ["schedule", "--config", "r.toml", "--kind", "cron", "--out", LONG])
    _one_error(result, 2, "File name too long")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.toml"]


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["plan", "--region", "eastus", "--data", "/dev/zero"], 1, "/dev/zero: more than 67108864 bytes"),
        (["verify", "--nsg", "/dev/zero", "--dest", "20.60.1.5"], 1, "/dev/zero: larger than 32 MiB"),
        (["apply", "--target", "/dev/zero", "--region", "eastus", "--dry-run"], 1, "larger than 32 MiB"),
        (
            [*SERVER, "--fqdns", "/dev/zero"],
            2,
            "FQDN list /dev/zero is over 1048576 bytes",
        ),
    ],
)
def test_an_endless_device_is_refused_not_read_forever(
    args: list[str], code: int, needle: str, shared_data: Path
) -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero on this system")
    if args[0] in ("verify", "apply"):
        args = [*args, "--data", _data(shared_data)]
    result = runner.invoke(app, args)
    _one_error(result, code, needle)


def test_a_gzip_bomb_is_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "ServiceTags_Public_20990101.json.gz"
    with gzip.open(bomb, "wb") as handle:  # 70 MB of zeros pack into ~70 KB
        chunk = b"\0" * (1 << 20)
        for _ in range(70):
            handle.write(chunk)
    assert bomb.stat().st_size < 1 << 20
    result = runner.invoke(app, ["ranges", "list", "--data", str(bomb)])
    _one_error(result, 1, "unpacks to more than 67108864 bytes")


GUID = "00000000-0000-0000-0000-000000000000"
NSG_ID = f"azure:/subscriptions/{GUID}/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n"


@pytest.mark.parametrize(
    "args",
    [
        ["ranges", "fetch", "--source", "api", "--subscription", GUID, "--location", "eastus"],
        ["verify", "--target", NSG_ID, "--dest", "20.60.1.5"],
    ],
)
def test_a_credential_that_cannot_sign_in_is_one_line(
    args: list[str], shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # EnvironmentCredential without its variables fails before any request: nothing leaves the machine.
    # As outside pytest, no handler is configured, so Python's last-resort handler would print the SDK's
    # WARNING records on stderr unless egress keeps them off.
    monkeypatch.setattr(logging.root, "handlers", [])
    for var in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH"):
        monkeypatch.delenv(var, raising=False)
    extra = ["--data", _data(shared_data)] if args[0] == "verify" else []
    result = runner.invoke(app, [*args, *extra, "--auth", "environment"])
    _one_error(
        result, 1, "could not get an Azure access token: EnvironmentCredential authentication unavailable"
    )


@pytest.mark.parametrize(
    ("source", "code", "needle"),
    [
        ("Bogus", 1, "--source 'Bogus' is neither an address prefix"),
        ("Ünï", 1, "--source 'Ünï' is neither an address prefix"),
        ("AzureBackup.EastUS", 1, "--source AzureBackup.EastUS: not usable as an NSG service tag"),
    ],
)
@pytest.mark.parametrize("command", ["plan", "render"])
def test_a_source_azure_would_refuse_is_refused_before_writing(
    command: str, source: str, code: int, needle: str, shared_data: Path
) -> None:
    args = [command, "--region", "eastus", "--source", source, "--data", _data(shared_data)]
    result = runner.invoke(app, [*args, "-f", "arm"] if command == "render" else args)
    _one_error(result, code, needle)


@pytest.mark.parametrize("source", ["*", "virtualnetwork", "Internet", "AzureCloud", "10.1.0.0/16"])
def test_sources_azure_accepts_are_planned(source: str, shared_data: Path) -> None:
    result = runner.invoke(
        app, ["plan", "--region", "eastus", "--source", source, "--data", _data(shared_data), "-o", "json"]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    allows = [r for r in json.loads(result.stdout)["rules"] if r["properties"]["access"] == "Allow"]
    assert allows and {r["properties"]["sourceAddressPrefix"] for r in allows} == {source}


def test_apply_refuses_an_unknown_source_and_leaves_the_file(shared_data: Path, tmp_path: Path) -> None:
    nsg = tmp_path / "nsg.json"
    nsg.write_text('{"properties": {"securityRules": []}}\n')
    before = nsg.read_bytes()
    args = ["apply", "--target", str(nsg), "--region", "eastus", "--source", "Bogus", "--yes"]
    result = runner.invoke(app, [*args, "--data", _data(shared_data)])
    _one_error(result, 1, "--source 'Bogus' is neither")
    assert nsg.read_bytes() == before


def _nsg_with_owned_rules(path: Path, count: int) -> None:
    rules = [
        {
            "name": f"egress-old-{i}",
            "properties": {
                "priority": 1000 + i,
                "direction": "Outbound",
                "access": "Allow",
                "protocol": "Tcp",
                "description": "[egress] an old rule",
                "sourceAddressPrefix": "VirtualNetwork",
                "sourcePortRange": "*",
                "destinationAddressPrefix": f"20.0.{i}.0/24",
                "destinationPortRange": "443",
            },
        }
        for i in range(count)
    ]
    path.write_text(json.dumps({"properties": {"securityRules": rules}}))


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--dry-run"], "more than --max-deletes 10, so it would be refused; review the changes, then raise"),
        (["--yes"], "more than --max-deletes 10, nothing was written; review the changes, then raise"),
    ],
)
def test_max_deletes_refusal_does_not_send_a_dry_run_back_to_dry_run(
    flags: list[str], needle: str, shared_data: Path, tmp_path: Path
) -> None:
    nsg = tmp_path / "nsg.json"
    _nsg_with_owned_rules(nsg, 12)
    before = nsg.read_bytes()
    args = ["apply", "--target", str(nsg), "--region", "eastus", "--data", _data(shared_data)]
    result = runner.invoke(app, [*args, *flags])
    assert result.exit_code == 4
    assert result.stdout.count("\ndelete  out") == 12  # the plan is shown before the refusal
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert needle in result.stderr and "--dry-run" not in result.stderr
    assert nsg.read_bytes() == before


@pytest.mark.parametrize("url", ["ftp://example.invalid/x", "file:///etc/passwd", "", "details.aspx"])
def test_ranges_fetch_refuses_a_page_url_that_is_not_web(url: str) -> None:
    result = runner.invoke(app, ["ranges", "fetch", "--page-url", url])
    _one_error(result, 2, f"--page-url {url!r}: give the https:// address of the details page (HTTPS only).")


def test_refresh_refuses_a_page_url_that_is_not_web(tmp_path: Path) -> None:
    config = tmp_path / "r.toml"
    config.write_text(
        f'[defaults]\nregion = "eastus"\n[[targets]]\nname = "a"\ntarget = "{tmp_path / "n.json"}"\n'
    )
    result = runner.invoke(app, ["refresh", "--config", str(config), "--page-url", "ftp://x/y"])
    _one_error(result, 2, "--page-url 'ftp://x/y': give the https:// address")


def test_refresh_says_once_that_the_download_failed(tmp_path: Path) -> None:
    # Downloads go to the closed loopback port (conftest) and the cache is empty: nothing to fall back on.
    nsg = tmp_path / "n.json"
    nsg.write_text('{"properties": {"securityRules": []}}\n')
    config = tmp_path / "r.toml"
    config.write_text(f'[defaults]\nregion = "eastus"\n[[targets]]\nname = "a"\ntarget = "{nsg}"\n')
    result = runner.invoke(app, ["refresh", "--config", str(config), "-o", "json"])
    assert result.exit_code == 1
    message = json.loads(result.stdout)["targets"][0]["message"]
    assert message.startswith(
        "could not fetch the Public service tags and nothing is cached to fall back on (https://127.0.0.1:9/"
    )
    assert message.count("could not fetch") == 1
    assert "the cached data is unchanged" not in message and "--page-url" not in message
    assert message.endswith("; run `egress ranges fetch` when the network works, or pass --data.")


def _rule(name: str, priority: int, destination: str = "20.60.1.0/24") -> dict[str, object]:
    return {
        "name": name,
        "properties": {
            "priority": priority,
            "direction": "Outbound",
            "access": "Allow",
            "protocol": "Tcp",
            "sourceAddressPrefix": "VirtualNetwork",
            "sourcePortRange": "*",
            "destinationAddressPrefix": destination,
            "destinationPortRange": "443",
        },
    }


@pytest.mark.parametrize(
    ("rules", "line"),
    [
        (
            [_rule("web", 300), _rule("WEB", 301, "20.60.2.0/24")],
            "error    duplicate-name    Outbound 301 WEB: name also used by the Outbound rule at priority 300; "
            "Azure rejects an NSG with two rules of one name.",
        ),
        (
            [_rule("ünï", 300)],
            "error    invalid-name      Outbound 300 ünï: name 'ünï' is not a name Azure accepts (1-80 letters, "
            "digits, `_`, `.` or `-`, starting and ending with a letter, digit or `_`).",
        ),
        (
            [_rule("to-bogus", 300, "Bogus")],
            "error    unknown-tag       Outbound 300 to-bogus: rule 'to-bogus': unknown service tag 'Bogus'; run "
            "`egress ranges list` to see the tags in the data; the rule was not analysed.",
        ),
    ],
)
def test_lint_reports_names_and_tags_azure_refuses(
    rules: list[dict[str, object]], line: str, shared_data: Path, tmp_path: Path
) -> None:
    nsg = tmp_path / "nsg.json"
    nsg.write_text(json.dumps({"properties": {"securityRules": rules}}))
    result = runner.invoke(app, ["lint", "--nsg", str(nsg), "--data", _data(shared_data)])
    assert result.exit_code == 1
    assert result.stderr == ""
    assert line in result.stdout.splitlines()


def test_verify_help_names_every_kind_of_target() -> None:
    result = runner.invoke(app, ["verify", "--help"])
    assert result.exit_code == 0 and result.stderr == ""
    text = " ".join(result.stdout.split())
    assert (
        "azure:/subscriptions/.../networkSecurityGroups/NAME, a JSON file (PATH or file:PATH), or - for"
        in text
    )


@pytest.mark.parametrize(("kind", "where"), [("cron", "your home folder"), ("systemd", "/")])
def test_schedule_warns_about_relative_paths_the_scheduler_resolves_elsewhere(
    kind: str, where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("r.toml").write_text(
        '[defaults]\ndata = "tags.json"\n'
        '[[targets]]\nname = "repo"\ntarget = "nsgs/lab.json"\n'
        '[[targets]]\nname = "abs"\ntarget = "file:/srv/nsg.json"\n'
        '[[targets]]\nname = "live"\ntarget = "azure:/subscriptions/x/resourceGroups/r/providers/'
        'Microsoft.Network/networkSecurityGroups/n"\n'
    )
    result = runner.invoke(app, ["schedule", "--config", "r.toml", "--kind", kind])
    assert result.exit_code == 0
    assert result.stdout.startswith(f"==> egress-refresh.{'crontab' if kind == 'cron' else 'service'} <==\n")
    assert result.stderr == (
        f"egress: relative paths in r.toml ([defaults] data, target repo) resolve from {where} when {kind} runs "
        "egress, not from this folder: write absolute paths in the config.\n"
    )


def test_schedule_is_quiet_about_absolute_paths(tmp_path: Path) -> None:
    config = tmp_path / "r.toml"
    config.write_text(f'[[targets]]\nname = "a"\ntarget = "{tmp_path / "n.json"}"\n')
    result = runner.invoke(app, ["schedule", "--config", str(config), "--kind", "cron"])
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.startswith("==> egress-refresh.crontab <==\n")


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "--region", "eastus"],
        ["ranges", "list"],
        ["verify", "--nsg", "nsg.json", "--dest", "20.60.1.5"],
    ],
)
def test_a_cache_folder_that_cannot_be_read_is_one_error_line(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As root every folder can be read, so the OS error comes from a name too long; EACCES takes the same path.
    monkeypatch.chdir(tmp_path)
    Path("nsg.json").write_text('{"properties": {"securityRules": []}}\n')
    monkeypatch.setenv("EGRESS_CACHE_DIR", str(tmp_path / LONG))
    result = runner.invoke(app, args)
    _one_error(
        result,
        1,
        f"cannot read the cache folder {tmp_path / LONG} (File name too long); set EGRESS_CACHE_DIR",
    )


@pytest.mark.parametrize(("value", "shown"), [("nan", "nan"), ("-1", "-1"), ("-inf", "-inf")])
def test_refresh_lock_timeout_must_be_a_number_of_seconds(
    value: str, shown: str, shared_data: Path, tmp_path: Path
) -> None:
    # NaN passed the `< 0` check and made the wait for a busy lock endless.
    config = tmp_path / "r.toml"
    config.write_text(
        f'[defaults]\nregion = "eastus"\n[[targets]]\nname = "a"\ntarget = "{tmp_path / "n.json"}"\n'
    )
    result = runner.invoke(
        app, ["refresh", "--config", str(config), "--data", _data(shared_data), "--lock-timeout", value]
    )
    _one_error(result, 2, f"--lock-timeout must be 0 or more seconds, not {shown}.")


def test_apply_writes_through_a_symlinked_nsg_file(shared_data: Path, tmp_path: Path) -> None:
    real = tmp_path / "shared" / "nsg.json"
    real.parent.mkdir()
    real.write_text('{"properties": {"securityRules": []}}\n')
    link = tmp_path / "nsg.json"
    link.symlink_to(Path("shared") / "nsg.json")
    args = ["apply", "--target", str(link), "--region", "eastus", "--yes", "--data", _data(shared_data)]
    result = runner.invoke(app, args)
    assert result.exit_code == 3, result.stderr
    assert result.stderr == ""
    assert result.stdout.endswith(f"Applied to {link}.\n")
    assert link.is_symlink()  # still a link, and the file it points to holds the rules
    rules = json.loads(real.read_text())["properties"]["securityRules"]
    assert [r["name"] for r in rules] == [
        "egress-storage-eastus",
        "egress-azurebackup",
        "egress-azureactivedirectory",
        "egress-deny-internet",
    ]
    assert (tmp_path / "shared" / "nsg.json.lock").exists() and not (tmp_path / "nsg.json.lock").exists()


@pytest.mark.parametrize("value", ["nan", "inf", "10,nan", "0", "-3"])
def test_http_timeout_must_be_finite_seconds(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # NaN and inf reached socket.settimeout, which raised (ValueError, OverflowError) past the CLI.
    monkeypatch.setenv("EGRESS_HTTP_TIMEOUT", value)
    result = runner.invoke(app, ["ranges", "fetch"])
    _one_error(result, 2, "EGRESS_HTTP_TIMEOUT and EGRESS_MAX_DOWNLOAD_BYTES must be positive (and finite).")


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_poll_interval_must_be_finite_seconds(
    value: str, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Read when the live target is opened, before any request (EnvironmentCredential makes none at creation).
    monkeypatch.setenv("EGRESS_POLL_INTERVAL", value)
    args = ["apply", "--target", NSG_ID, "--region", "eastus", "--dry-run", "--auth", "environment"]
    result = runner.invoke(app, [*args, "--data", _data(shared_data)])
    _one_error(result, 2, f"$EGRESS_POLL_INTERVAL={value!r}: give a finite number of seconds, 0 or more.")


@pytest.mark.parametrize(("group", "first"), [("ranges", "fetch"), ("proxy", "guest")])
def test_a_group_without_a_command_shows_its_help_like_the_root(group: str, first: str) -> None:
    root = runner.invoke(app, [])
    result = runner.invoke(app, [group])
    assert root.exit_code == result.exit_code == 2
    assert root.stdout == result.stdout == ""
    assert root.stderr.startswith("Usage: egress [OPTIONS] COMMAND [ARGS]...\n")
    assert result.stderr.startswith(f"Usage: egress {group} [OPTIONS] COMMAND [ARGS]...\n\n")
    assert f"\nCommands:\n  {first} " in result.stderr and "Error:" not in result.stderr


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("nsgs/lab.json", "file:nsgs/./lab.json"),
        (
            "azure:/subscriptions/"
            + GUID
            + "/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n",
            "/SUBSCRIPTIONS/"
            + GUID
            + "/resourcegroups/RG/providers/microsoft.network/networksecuritygroups/N",
        ),
    ],
)
@pytest.mark.parametrize("command", ["refresh", "plan"])
def test_two_targets_fighting_over_one_nsg_are_refused(
    command: str, first: str, second: str, tmp_path: Path
) -> None:
    config = tmp_path / "r.toml"
    config.write_text(
        '[defaults]\nregion = "eastus"\n'
        f'[[targets]]\nname = "a"\ntarget = "{first}"\n'
        f'[[targets]]\nname = "b"\ntarget = "{second}"\noption = "ip-ranges"\n'
    )
    result = runner.invoke(app, [command, "--config", str(config)])
    _one_error(
        result,
        2,
        f"{config}: targets 'a' and 'b' both manage {second} with rule prefix 'egress-', so each would delete "
        "the other's rules; give each its own `rule_prefix` (neither starting the other) or remove one.",
    )


def test_rule_prefixes_that_start_each_other_are_refused_on_one_nsg(tmp_path: Path) -> None:
    config = tmp_path / "r.toml"
    config.write_text(
        '[defaults]\nregion = "eastus"\n'
        '[[targets]]\nname = "a"\ntarget = "n.json"\n'
        '[[targets]]\nname = "b"\ntarget = "n.json"\nrule_prefix = "egress-b-"\n'
    )
    result = runner.invoke(app, ["plan", "--config", str(config)])
    _one_error(
        result, 2, "both manage n.json with rule prefix 'egress-' and 'egress-b-', so each would delete"
    )


def test_two_targets_on_one_nsg_with_their_own_rule_prefixes_are_fine(
    shared_data: Path, tmp_path: Path
) -> None:
    nsg = tmp_path / "nsg.json"
    nsg.write_text('{"properties": {"securityRules": []}}\n')
    config = tmp_path / "r.toml"
    config.write_text(
        '[defaults]\nregion = "eastus"\n'
        f'[[targets]]\nname = "a"\ntarget = "{nsg}"\n'
        f'[[targets]]\nname = "b"\ntarget = "{nsg}"\nrule_prefix = "other-"\ndeny_internet = false\n'
        "priority_start = 300\n"
    )
    result = runner.invoke(app, ["refresh", "--config", str(config), "--data", _data(shared_data), "--apply"])
    assert result.exit_code == 3, result.stdout
    names = sorted(r["name"] for r in json.loads(nsg.read_text())["properties"]["securityRules"])
    assert names == sorted(
        [
            f"{p}{n}"
            for p in ("egress-", "other-")
            for n in ("storage-eastus", "azurebackup", "azureactivedirectory")
        ]
        + ["egress-deny-internet"]
    )


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "--region", "eastus", "--data", ""],
        ["ranges", "list", "--data", " "],
        ["ranges", "diff", "", ""],
        ["verify", "--nsg", "nsg.json", "--dest", "20.60.1.5", "--data", ""],
    ],
)
def test_an_empty_data_path_is_an_error_not_the_default_data(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("nsg.json").write_text('{"properties": {"securityRules": []}}\n')
    result = runner.invoke(app, args)
    _one_error(result, 1, "empty data file name: give a ServiceTags_*.json file, or leave --data out.")


def test_refresh_with_an_empty_data_path_does_not_fetch(tmp_path: Path) -> None:
    config = tmp_path / "r.toml"
    config.write_text(
        f'[defaults]\nregion = "eastus"\n[[targets]]\nname = "a"\ntarget = "{tmp_path / "n.json"}"\n'
    )
    result = runner.invoke(app, ["refresh", "--config", str(config), "--data", "", "--apply"])
    _one_error(
        result, 2, "--data is empty: give a service-tag file, or leave --data out to fetch this week's."
    )


@pytest.mark.parametrize("empty", ["", " "])
@pytest.mark.parametrize(
    "args",
    [
        ["render", "-f", "arm", "--region", "eastus"],
        ["proxy", "guest", "--os", "linux", "--proxy", "10.0.0.5:3128"],
        SERVER,
        ["schedule", "--config", "r.toml", "--kind", "cron"],
    ],
)
def test_an_empty_out_is_a_usage_error_not_this_folder(
    args: list[str], empty: str, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A Path option turns '' into '.', which would write the files into the folder egress runs in.
    monkeypatch.chdir(tmp_path)
    Path("r.toml").write_text(f'[[targets]]\nname = "a"\ntarget = "{tmp_path / "nsg.json"}"\n')
    if args[0] == "render":
        args = [*args, "--data", _data(shared_data)]
    result = runner.invoke(app, [*args, "--out", empty])
    _one_error(
        result, 2, "--out is empty: give the folder to write the files into, or leave --out out to print."
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.toml"]


@pytest.mark.parametrize(
    "args",
    [
        ["lint", "--nsg", "nsg.json"],
        ["verify", "--nsg", "nsg.json", "--dest", "20.60.1.5"],
        ["apply", "--target", "nsg.json", "--region", "eastus", "--dry-run"],
    ],
)
def test_a_priority_written_as_a_string_is_refused_by_every_command(
    args: list[str], shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The REST API takes a number and apply's validator refused "200"; lint used to read it as 200.
    monkeypatch.chdir(tmp_path)
    rule = _rule("web", 300)
    rule["properties"]["priority"] = "300"  # type: ignore[index]
    Path("nsg.json").write_text(json.dumps({"name": "n", "properties": {"securityRules": [rule]}}))
    before = Path("nsg.json").read_text()
    result = runner.invoke(app, [*args, "--data", _data(shared_data)])
    _one_error(
        result,
        1,
        "rule 'web': priority must be an integer, got the string '300'; "
        "Azure takes a JSON number: write 300 without quotes.",
    )
    assert Path("nsg.json").read_text() == before


@pytest.mark.parametrize("query", [["--dest-tag", "AzureBackup"], ["--dest", "20.60.1.5"]])
def test_a_damaged_prefix_in_the_data_is_a_data_error(
    query: list[str], shared_data: Path, tmp_path: Path
) -> None:
    # A prefix of the tag itself is broken: the data's fault (exit 1), not the user's query (exit 2) nor the rule's.
    doc = json.loads(Path(_data(shared_data)).read_text(encoding="utf-8"))
    (tag,) = [v for v in doc["values"] if v["name"] == "AzureBackup"]
    tag["properties"]["addressPrefixes"][0] = "20.60.1.999/24"
    damaged = tmp_path / "ServiceTags_Public_20250127.json"
    damaged.write_text(json.dumps(doc))
    nsg = tmp_path / "nsg.json"
    nsg.write_text(
        json.dumps({"name": "n", "properties": {"securityRules": [_rule("to-backup", 300, "AzureBackup")]}})
    )
    result = runner.invoke(app, ["verify", "--nsg", str(nsg), *query, "--data", str(damaged)])
    _one_error(
        result,
        1,
        f"Error: {damaged}: service tag AzureBackup: invalid IP prefix '20.60.1.999/24': IPv4 part '999' is not a "
        "number 0-255; the data is damaged: download it again (`egress ranges fetch`) or give another --data.\n",
    )


@pytest.mark.parametrize("subscription", ["x", "my-subscription", f"{GUID}0", f"{{{GUID}}}", " "])
def test_a_subscription_that_is_not_a_guid_is_refused_before_any_sign_in(
    subscription: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from egress.adapters.azure import credentials, service_tags

    def no_sign_in(*args: object, **kwargs: object) -> None:
        raise AssertionError("a credential was made for a subscription that is not a GUID")

    monkeypatch.setattr(credentials, "make_credential", no_sign_in)
    monkeypatch.setattr(service_tags, "fetch_service_tags", no_sign_in)
    args = ["ranges", "fetch", "--source", "api", "--subscription", subscription, "--location", "eastus"]
    result = runner.invoke(app, args)
    _one_error(
        result,
        2,
        f"Error: --subscription {subscription!r} is not a subscription id (a GUID like "
        "00000000-0000-0000-0000-000000000000); `az account show --query id` prints yours.\n",
    )


def test_a_subscription_guid_is_taken_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    from egress.adapters.azure import service_tags
    from egress.errors import TargetError

    asked: list[str] = []

    def fetch(subscription: str, *args: object) -> dict[str, object]:
        asked.append(subscription)
        raise TargetError("stop here")  # the answer is not what this test is about

    monkeypatch.setattr(service_tags, "fetch_service_tags", fetch)
    upper = "0B1F6471-1BF0-4DDA-AEC3-CB9272F09590"
    result = runner.invoke(
        app, ["ranges", "fetch", "--source", "api", "--subscription", f" {upper} ", "--location", "l"]
    )
    _one_error(result, 1, "Error: stop here\n")
    assert asked == [upper.lower()]


@pytest.mark.parametrize(
    "args",
    [
        ["verify", "--nsg", "nsg.json", "--dest", "20.60.1.5"],
        ["verify", "--target", "nsg.json", "--dest-tag", "AzureBackup"],
        ["lint", "--nsg", "nsg.json"],
        ["apply", "--target", "nsg.json", "--region", "eastus", "--dry-run"],
    ],
)
def test_a_bogus_auth_is_refused_even_for_a_local_file(
    args: list[str], shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # --auth only matters for azure: targets, but a typo in it is a typo in a script that will meet one.
    monkeypatch.chdir(tmp_path)
    Path("nsg.json").write_text(
        json.dumps({"name": "n", "properties": {"securityRules": [_rule("web", 300)]}})
    )
    before = Path("nsg.json").read_text()
    result = runner.invoke(app, [*args, "--auth", "bogus", "--data", _data(shared_data)])
    _one_error(
        result, 2, "Error: unknown --auth 'bogus': use one of default, cli, environment, managed-identity.\n"
    )
    assert Path("nsg.json").read_text() == before
    good = runner.invoke(
        app, [*args, "--auth", "CLI", "--data", _data(shared_data)]
    )  # any case, as elsewhere
    assert good.exit_code in (0, 1, 3) and "--auth" not in good.stderr, good.stderr


@pytest.mark.parametrize(
    ("os_name", "networks", "shown"),
    [
        ("linux", ["0.0.0.0/0"], "0.0.0.0/0"),
        ("linux", ["::/0", "10.0.0.0/16"], "::/0"),
        ("windows", ["0.0.0.0/0", "::/0"], "0.0.0.0/0 and ::/0"),
    ],
)
def test_a_proxy_open_to_every_address_is_generated_with_a_warning(
    os_name: str, networks: list[str], shown: str
) -> None:
    args = ["proxy", "server", "--os", os_name, "--port", "3128"]
    for network in networks:
        args += ["--allow-from", network]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == (
        f"egress: --allow-from {shown} lets any address use the proxy: it is open to the Internet if its NSG "
        "allows inbound port 3128; give the protected VMs' VNet or subnet instead.\n"
    )
    first = "squid.conf" if os_name == "linux" else "firewall.ps1"
    assert result.stdout.startswith(f"==> {first} <==\n")  # generated all the same
    assert all(network in result.stdout for network in networks)


def test_a_proxy_for_a_vnet_gets_no_warning() -> None:
    result = runner.invoke(app, [*SERVER, "--allow-from", "fd00::/8"])
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.startswith("==> squid.conf <==\n")
