"""Guest proxy files, read back by the programs that consume them (bash, shellcheck, WALinuxAgent, pam_env, systemd)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from egress.errors import UsageError
from egress.render.header import Header
from egress.render.proxy_guest import guest_files, guest_modes, guest_proxy, windows_bypass
from tests.helpers import assert_golden, assert_pwsh_parses, require_program, require_root, shellcheck

HEADER = Header(tool_version="TEST", provenance="proxy from the test", command="egress proxy guest (test)")
AGENT_DIR = Path("/usr/lib/python3/dist-packages/azurelinuxagent")
SAMPLE_WAAGENT_CONF = Path("/etc/waagent.conf")  # installed by Debian's waagent package


def _linux(proxy: str = "10.0.0.5:3128", extra: tuple[str, ...] = ()) -> dict[str, str]:
    return guest_files("linux", guest_proxy(proxy, extra), HEADER)


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    for name, mode in guest_modes(files).items():
        (folder / name).chmod(mode)
    return folder


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _apply(script: Path, root: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "EGRESS_ROOT": str(root)}
    return subprocess.run(
        [require_program("bash"), str(script)], env=env, capture_output=True, text=True, check=False
    )


def _parse_env_lines(text: str) -> dict[str, str]:
    """KEY=VALUE lines as a plain reader (and pam_env for unquoted values) sees them."""
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


# --- golden files -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["environment", "waagent.conf.snippet", "http-proxy.conf", "apply-proxy.sh"])
def test_linux_golden(name: str) -> None:
    assert_golden(f"proxy/guest-linux/{name}", _linux(extra=("*.corp.example", "10.1.0.0/16"))[name])


def test_windows_golden() -> None:
    files = guest_files("windows", guest_proxy("10.0.0.5:3128", ["*.corp.example", "10.1.0.0/16"]), HEADER)
    assert list(files) == ["set-proxy.ps1"]
    assert_golden("proxy/guest-windows/set-proxy.ps1", files["set-proxy.ps1"])


# --- content ------------------------------------------------------------------------------------------------


def test_environment_values() -> None:
    values = _parse_env_lines(_linux(extra=(".corp.example",))["environment"])
    assert values["http_proxy"] == values["https_proxy"] == values["HTTPS_PROXY"] == "http://10.0.0.5:3128"
    assert values["no_proxy"].split(",") == [
        "168.63.129.16",
        "169.254.169.254",
        "localhost",
        "127.0.0.1",
        ".corp.example",
    ]
    assert values["NO_PROXY"] == values["no_proxy"]


def test_waagent_snippet_has_a_bare_host() -> None:
    lines = [line for line in _linux()["waagent.conf.snippet"].splitlines() if not line.startswith("#")]
    assert lines == ["HttpProxy.Host=10.0.0.5", "HttpProxy.Port=3128"]


def test_ipv6_proxy_is_bracketed_in_urls_and_bare_for_the_agent() -> None:
    files = _linux("[2001:db8::5]:3128")
    assert "http_proxy=http://[2001:db8::5]:3128\n" in files["environment"]
    assert "HttpProxy.Host=2001:db8::5\n" in files["waagent.conf.snippet"]


@pytest.mark.parametrize("bad", ["'; rm -rf /", "$(id)", "`id`", "a\nb", 'x"y', "10.0.0.0/8 x"])
def test_hostile_no_proxy_is_refused(bad: str) -> None:
    with pytest.raises(UsageError):
        guest_proxy("10.0.0.5:3128", [bad])


def test_windows_bypass_translation() -> None:
    settings = guest_proxy(
        "10.0.0.5:3128", ["*.corp.example", "10.1.0.0/16", "10.2.3.4/32", "intranet", "localhost"]
    )
    assert (
        windows_bypass(settings)
        == "<local>;168.63.129.16;169.254.169.254;*.corp.example;10.1.*;10.2.3.4;intranet"
    )


@pytest.mark.parametrize("entry", ["10.1.2.0/23", "fd00::/64"])
def test_windows_bypass_refuses_what_windows_cannot_express(entry: str) -> None:
    with pytest.raises(UsageError, match="Windows bypass lists"):
        windows_bypass(guest_proxy("10.0.0.5:3128", [entry]))


# --- bash script --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_apply_script_passes_shellcheck_and_bash_n(tmp_path: Path) -> None:
    folder = _write(tmp_path, _linux(extra=("*.corp.example",)))
    result = shellcheck(folder / "apply-proxy.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
    syntax = subprocess.run(
        [require_program("bash"), "-n", str(folder / "apply-proxy.sh")], capture_output=True
    )
    assert syntax.returncode == 0
    assert os.access(folder / "apply-proxy.sh", os.X_OK)


def _sample_root(root: Path) -> Path:
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "environment").write_text(
        'PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"\n'
        "http_proxy=http://old-proxy:8080\n"
        "#no_proxy=old\n"
        "  export https_proxy = http://old-proxy:8080\n"
        "https_proxy=http://duplicate:1\n"
        "LANG=C.UTF-8"  # no final newline
    )
    sample = (
        SAMPLE_WAAGENT_CONF.read_text()
        if SAMPLE_WAAGENT_CONF.exists()
        else "#HttpProxy.Host=None\n#HttpProxy.Port=None\n"
    )
    (root / "etc" / "waagent.conf").write_text(sample + "Logs.Verbose=n\n")
    return root


@pytest.mark.slow
def test_apply_edits_in_place_and_is_idempotent(tmp_path: Path) -> None:
    files = _linux()
    folder = _write(tmp_path / "files", files)
    root = _sample_root(tmp_path / "root")
    original_env = (root / "etc" / "environment").read_text()
    original_conf = (root / "etc" / "waagent.conf").read_text()

    first = _apply(folder / "apply-proxy.sh", root)
    assert first.returncode == 0, first.stderr
    assert "updated" in first.stdout
    after_one = _snapshot(root)
    second = _apply(folder / "apply-proxy.sh", root)
    assert second.returncode == 0, second.stderr
    assert "nothing changed" in second.stdout
    assert _snapshot(root) == after_one  # byte-identical: a second run changes nothing

    env_lines = (root / "etc" / "environment").read_text().splitlines()
    assert env_lines[0] == 'PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"'
    assert env_lines[1] == "http_proxy=http://10.0.0.5:3128"  # replaced where it was
    assert env_lines[2].startswith("no_proxy=168.63.129.16,")  # the commented key taken over in place
    assert [line.split("=")[0].strip() for line in env_lines].count("https_proxy") == 1  # duplicates folded
    assert "LANG=C.UTF-8" in env_lines
    assert (root / "etc" / "environment.egress.bak").read_text() == original_env
    assert (root / "etc" / "waagent.conf.egress.bak").read_text() == original_conf

    conf = (root / "etc" / "waagent.conf").read_text().splitlines()
    assert conf.count("HttpProxy.Host=10.0.0.5") == 1 and conf.count("HttpProxy.Port=3128") == 1
    assert len(conf) == len(original_conf.splitlines())  # replaced the commented defaults, appended nothing

    for unit in ("walinuxagent.service", "waagent.service"):  # no unit in the tree: both prepared
        dropin = root / "etc" / "systemd" / "system" / f"{unit}.d" / "http-proxy.conf"
        assert dropin.read_text() == files["http-proxy.conf"]


@pytest.mark.slow
def test_apply_keeps_the_first_backup_when_settings_change(tmp_path: Path) -> None:
    root = _sample_root(tmp_path / "root")
    original = (root / "etc" / "environment").read_text()
    assert _apply(_write(tmp_path / "a", _linux("10.0.0.5:3128")) / "apply-proxy.sh", root).returncode == 0
    assert _apply(_write(tmp_path / "b", _linux("10.0.0.6:8080")) / "apply-proxy.sh", root).returncode == 0
    assert (root / "etc" / "environment.egress.bak").read_text() == original
    assert "http_proxy=http://10.0.0.6:8080\n" in (root / "etc" / "environment").read_text()
    assert "HttpProxy.Port=8080\n" in (root / "etc" / "waagent.conf").read_text()


@pytest.mark.slow
def test_apply_installs_the_drop_in_only_for_the_unit_present(tmp_path: Path) -> None:
    root = _sample_root(tmp_path / "root")
    unit_dir = root / "lib" / "systemd" / "system"
    unit_dir.mkdir(parents=True)
    (unit_dir / "waagent.service").write_text("[Service]\nExecStart=/usr/sbin/waagent -daemon\n")
    assert _apply(_write(tmp_path / "f", _linux()) / "apply-proxy.sh", root).returncode == 0
    assert (root / "etc/systemd/system/waagent.service.d/http-proxy.conf").is_file()
    assert not (root / "etc/systemd/system/walinuxagent.service.d").exists()


@pytest.mark.slow
def test_apply_creates_missing_files(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    result = _apply(_write(tmp_path / "f", _linux()) / "apply-proxy.sh", root)
    assert result.returncode == 0, result.stderr
    assert (root / "etc/waagent.conf").read_text() == "HttpProxy.Host=10.0.0.5\nHttpProxy.Port=3128\n"
    assert not list(root.rglob("*.egress.bak"))
    assert not list(root.rglob(".egress.*"))  # no temp file left


@pytest.mark.slow
def test_apply_refuses_a_missing_root(tmp_path: Path) -> None:
    result = _apply(_write(tmp_path / "f", _linux()) / "apply-proxy.sh", tmp_path / "nope")
    assert result.returncode == 1
    assert "is not a folder" in result.stderr


# --- WALinuxAgent's own parser --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def agent_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding only a symlink to Debian's azurelinuxagent package, for PYTHONPATH."""
    if not AGENT_DIR.is_dir():
        pytest.skip("WALinuxAgent is not installed (apt-get install waagent)")
    try:
        import distro  # noqa: F401  (restutil needs it; Debian's copy is not on the venv's path)
    except ImportError:
        pytest.skip("the distro package is not installed (pip install '.[test]')")
    folder = tmp_path_factory.mktemp("agent")
    (folder / "azurelinuxagent").symlink_to(AGENT_DIR)
    return folder


_AGENT_PROBE = """
import json, sys
from azurelinuxagent.common import conf
from azurelinuxagent.common.utils import restutil
conf.load_conf_from_file(sys.argv[1])
hosts = sys.argv[2:]
print(json.dumps({
    "host": conf.get_httpproxy_host(),
    "port": conf.get_httpproxy_port(),
    "selected": restutil._get_http_proxy(secure=True),
    "bypass": {h: restutil.bypass_proxy(h) for h in hosts},
}))
"""


def _agent(agent_path: Path, conf: Path, env: dict[str, str], hosts: list[str]) -> dict[str, object]:
    full_env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(agent_path), **env}
    out = subprocess.run(
        [sys.executable, "-c", _AGENT_PROBE, str(conf), *hosts],
        env=full_env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


HOSTS = ["168.63.129.16", "169.254.169.254", "myvault.blob.core.windows.net", "a.corp.example", "10.1.2.3"]


@pytest.mark.slow
def test_waagent_reads_the_applied_conf_and_honours_no_proxy(tmp_path: Path, agent_path: Path) -> None:
    files = _linux(extra=("*.corp.example", "10.1.0.0/16"))
    root = _sample_root(tmp_path / "root")
    assert _apply(_write(tmp_path / "f", files) / "apply-proxy.sh", root).returncode == 0
    env = _parse_env_lines(files["environment"])
    seen = _agent(agent_path, root / "etc" / "waagent.conf", env, HOSTS)
    assert (seen["host"], seen["port"]) == ("10.0.0.5", 3128)
    assert seen["selected"] == ["10.0.0.5", 3128]
    assert seen["bypass"] == {
        "168.63.129.16": True,
        "169.254.169.254": True,
        "myvault.blob.core.windows.net": False,
        "a.corp.example": True,
        "10.1.2.3": True,
    }


@pytest.mark.slow
def test_waagent_control_without_no_proxy_would_proxy_the_wireserver(
    tmp_path: Path, agent_path: Path
) -> None:
    # Control: the bypass above comes from the generated no_proxy, not from a default of the agent.
    conf = tmp_path / "waagent.conf"
    conf.write_text(_linux()["waagent.conf.snippet"])
    seen = _agent(agent_path, conf, {}, ["168.63.129.16"])
    assert seen["bypass"] == {"168.63.129.16": False}


# --- pam_env ----------------------------------------------------------------------------------------------------


def _pam_env(envfile: Path, tmp_path: Path) -> dict[str, str]:
    """Open a PAM session whose only modules are pam_env (reading envfile) and pam_exec dumping the result."""
    require_root("pamtester needs a temporary service in /etc/pam.d")
    pamtester = require_program("pamtester")
    service = f"egress-test-{uuid.uuid4().hex[:12]}"
    dump = tmp_path / "pam-env.out"
    pam_file = Path("/etc/pam.d") / service
    pam_file.write_text(
        f"session required pam_env.so envfile={envfile} conffile=/dev/null readenv=1\n"
        f"session required pam_exec.so log={dump} /usr/bin/env\n"
    )
    try:
        run = subprocess.run([pamtester, service, "root", "open_session"], capture_output=True, text=True)
    finally:
        pam_file.unlink()
    assert run.returncode == 0, run.stdout + run.stderr
    lines = [line for line in dump.read_text().splitlines() if "=" in line and not line.startswith("PAM_")]
    return dict(line.split("=", 1) for line in lines)


@pytest.mark.slow
def test_pam_env_reads_the_generated_environment(tmp_path: Path) -> None:
    files = _linux(extra=(".corp.example",))
    envfile = _write(tmp_path / "f", files) / "environment"
    seen = _pam_env(envfile, tmp_path)
    assert seen == _parse_env_lines(files["environment"])
    assert seen["no_proxy"] == "168.63.129.16,169.254.169.254,localhost,127.0.0.1,.corp.example"


@pytest.mark.slow
def test_pam_env_reads_etc_environment_after_apply(tmp_path: Path) -> None:
    root = _sample_root(tmp_path / "root")
    assert _apply(_write(tmp_path / "f", _linux()) / "apply-proxy.sh", root).returncode == 0
    seen = _pam_env(root / "etc" / "environment", tmp_path)
    assert seen["http_proxy"] == seen["https_proxy"] == "http://10.0.0.5:3128"
    assert seen["PATH"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"  # pam_env strips the quotes
    assert seen["LANG"] == "C.UTF-8"


# --- systemd ----------------------------------------------------------------------------------------------------


def _verify_dropin(tmp_path: Path, dropin_text: str) -> subprocess.CompletedProcess[str]:
    analyze = require_program("systemd-analyze")
    units = tmp_path / "units"
    (units / "walinuxagent.service.d").mkdir(parents=True)
    (units / "walinuxagent.service").write_text(
        "[Unit]\nDescription=Azure Linux Agent (test copy)\n[Service]\nExecStart=/bin/true\n"
    )
    (units / "walinuxagent.service.d" / "http-proxy.conf").write_text(dropin_text)
    env = {**os.environ, "SYSTEMD_UNIT_PATH": f"{units}:"}
    return subprocess.run(
        [analyze, "verify", str(units / "walinuxagent.service")], env=env, capture_output=True, text=True
    )


@pytest.mark.slow
def test_systemd_accepts_the_drop_in(tmp_path: Path) -> None:
    dropin = _linux()["http-proxy.conf"]
    result = _verify_dropin(tmp_path, dropin)
    assert result.returncode == 0 and result.stdout == "" and result.stderr == "", result.stderr
    env_lines = [line for line in dropin.splitlines() if line.startswith("Environment=")]
    assignments = dict(shlex.split(line.removeprefix("Environment="))[0].split("=", 1) for line in env_lines)
    assert assignments["https_proxy"] == "http://10.0.0.5:3128"
    assert assignments["NO_PROXY"].startswith("168.63.129.16,169.254.169.254,")


@pytest.mark.slow
def test_systemd_control_reports_a_broken_drop_in(tmp_path: Path) -> None:
    result = _verify_dropin(tmp_path, _linux()["http-proxy.conf"] + 'Environment="broken\n')
    assert "http-proxy.conf" in result.stderr


# --- PowerShell -------------------------------------------------------------------------------------------------


def test_set_proxy_ps1_parses_and_sets_both_stacks() -> None:
    settings = guest_proxy("10.0.0.5:3128", ["*.corp.example"])
    text = guest_files("windows", settings, HEADER)["set-proxy.ps1"]
    assert_pwsh_parses(text)
    assert "$ErrorActionPreference = 'Stop'\n" in text
    assert (
        'netsh winhttp set proxy proxy-server="http=10.0.0.5:3128;https=10.0.0.5:3128" '
        'bypass-list="<local>;168.63.129.16;169.254.169.254;*.corp.example"' in text
    )
    assert "$BypassList = '<local>;168.63.129.16;169.254.169.254;*.corp.example'\n" in text
    assert "HKEY_USERS\\S-1-5-18\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings" in text
    for value in ("DefaultConnectionSettings", "SavedLegacySettings", "ProxyEnable", "ProxyServer"):
        assert value in text
