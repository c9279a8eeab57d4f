"""`egress schedule`: the files that run `egress refresh --apply` on cron, systemd, GitHub Actions or Kubernetes."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from egress import __version__
from egress.cli import app
from egress.cli.common import auth_method, emit_files, note, out_folder
from egress.errors import UsageError

if TYPE_CHECKING:
    from egress.core.spec import Config


def _default_command() -> list[str]:
    """The installed `egress` script, else this interpreter running the package (a venv without the script)."""
    found = shutil.which("egress")
    if found:
        return [os.path.abspath(found)]
    return [sys.executable, "-m", "egress"]


def _repo_path(config: str) -> str:
    """GitHub Actions runs in the repository checkout: the config must be a path inside it."""
    path = Path(config)
    if path.is_absolute():
        try:
            path = path.resolve().relative_to(Path.cwd().resolve())
        except ValueError:
            raise UsageError(
                f"--config {config}: for github-actions give the config's path inside the repository "
                "(run egress schedule from the repository root)."
            ) from None
    text = path.as_posix()
    if text.startswith("../"):
        raise UsageError(f"--config {config}: the config must be inside the repository for github-actions.")
    return text


def _warn_relative_paths(cfg: Config, config: str, kind: str) -> None:
    """Relative paths in the config resolve from the folder egress runs in, which the scheduler chooses."""

    def relative(path: str | None) -> bool:
        return bool(path) and not Path(str(path)).expanduser().is_absolute()

    found = ["[defaults] data"] if relative(cfg.defaults.data) else []
    for t in cfg.targets:
        path = t.target.strip()
        if not path.lower().startswith(("azure:", "/subscriptions/")):
            path = path[len("file:") :] if path.lower().startswith("file:") else path
            if relative(path):
                found.append(f"target {t.name}")
        if t.spec.data != cfg.defaults.data and relative(t.spec.data):
            found.append(f"target {t.name} data")
    if found:
        where = "your home folder" if kind == "cron" else "/"
        note(
            f"relative paths in {config} ({', '.join(found)}) resolve from {where} when {kind} runs egress, "
            "not from this folder: write absolute paths in the config."
        )


@app.command("schedule")
def schedule(
    config: str = typer.Option(..., "--config", help="The refresh config (TOML with [[targets]])."),
    kind: str = typer.Option(..., "--kind", help="cron | systemd | github-actions | k8s-cronjob"),
    every: str = typer.Option("weekly", "--every", help="weekly | daily | a five-field cron expression."),
    out_option: str | None = typer.Option(
        None,
        "--out",
        help="Folder to write the files into (only changed files are rewritten). Default: print.",
    ),
    name: str = typer.Option("egress-refresh", "--name", help="Name of the unit, workflow or CronJob."),
    auth: str | None = typer.Option(
        None,
        "--auth",
        help="How the scheduled run signs in (default: cli for github-actions, default otherwise).",
    ),
    egress_command: str | None = typer.Option(
        None, "--egress", help="cron/systemd: absolute path of the egress program (default: the one found)."
    ),
    log: str | None = typer.Option(
        None, "--log", help="cron: file the output is appended to (default: ~/egress-refresh.log)."
    ),
    user: str | None = typer.Option(None, "--user", help="systemd: run the service as this user."),
    image: str | None = typer.Option(None, "--image", help="k8s-cronjob: container image with egress."),
    client_id: str | None = typer.Option(
        None, "--client-id", help="k8s-cronjob: client id of the workload identity (default: a placeholder)."
    ),
    install: str | None = typer.Option(
        None, "--install", help=f"github-actions: what pip installs (default egress=={__version__})."
    ),
) -> None:
    """Write what runs `egress refresh --config FILE --apply` on a scheduler you already have."""
    from egress.cli.spec_options import read_config
    from egress.render import schedule as sch
    from egress.render.header import Header

    kind = kind.strip().lower()
    if kind not in sch.KINDS:
        raise UsageError(f"unknown --kind {kind!r}: use one of {', '.join(sch.KINDS)}.")
    out = out_folder(out_option)
    only = {
        "--egress": (egress_command, ("cron", "systemd")),
        "--log": (log, ("cron",)),
        "--user": (user, ("systemd",)),
        "--image": (image, ("k8s-cronjob",)),
        "--client-id": (client_id, ("k8s-cronjob",)),
        "--install": (install, ("github-actions",)),
    }
    for flag, (value, kinds) in only.items():
        if value is not None and kind not in kinds:
            raise UsageError(f"{flag} applies to --kind {' or '.join(kinds)} only.")
    auth_mode = auth_method(auth or ("cli" if kind == "github-actions" else "default"))
    sch.no_control(config, "--config")
    cfg = read_config(config)
    if not cfg.targets:
        raise UsageError(f"{config}: lists no [[targets]]; a scheduled refresh needs at least one NSG.")
    config_text = Path(config).read_text(encoding="utf-8")
    local = [
        t.name for t in cfg.targets if not t.target.strip().lower().startswith(("azure:", "/subscriptions/"))
    ]
    if local and kind in ("github-actions", "k8s-cronjob"):
        note(
            f"target(s) {', '.join(local)} are local files: the scheduled run must be able to reach them "
            "(in the repository checkout, or a mounted volume)."
        )
    if kind in ("cron", "systemd"):
        _warn_relative_paths(cfg, config, kind)
    cron = sch.parse_every(every)
    settings = sch.ScheduleSettings(
        kind=kind,
        schedule=cron,
        config=str(Path(config).expanduser().resolve()),
        config_name=Path(config).name,
        config_text=config_text,
        name=sch.check_name(name),
        auth=auth_mode,
        cloud=cfg.defaults.cloud.strip().lower(),
    )
    words = ["egress", "schedule", "--config", config, "--kind", kind, "--every", every, "--name", name]
    if auth is not None:
        words += ["--auth", auth_mode]
    if kind in ("cron", "systemd"):
        command = [sch.check_absolute(egress_command, "--egress")] if egress_command else _default_command()
        for word in command:
            sch.no_control(word, "--egress")
        settings = replace(settings, command=tuple(command))
        if egress_command:
            words += ["--egress", egress_command]
    if kind == "cron":
        default_log = str(Path.home() / "egress-refresh.log")  # a folder that exists before the first run
        settings = replace(settings, log=sch.check_absolute(log or default_log, "--log"))
        if log:
            words += ["--log", log]
    elif kind == "systemd":
        if user:
            settings = replace(settings, user=sch.check_user(user))
            words += ["--user", user]
    elif kind == "github-actions":
        settings = replace(
            settings,
            config=sch.check_word(_repo_path(config), "--config"),
            install=sch.check_word(install or f"egress=={__version__}", "--install"),
        )
        if install:
            words += ["--install", install]
    else:
        if not image:
            raise UsageError("--kind k8s-cronjob needs --image (a container image with egress installed).")
        settings = replace(
            settings,
            image=sch.check_image(image),
            client_id=sch.check_client_id(client_id) if client_id else None,
        )
        words += ["--image", image] + (["--client-id", client_id] if client_id else [])
    if out is not None:
        words += ["--out", str(out)]
    import hashlib

    digest = hashlib.sha256(config_text.encode("utf-8")).hexdigest()
    header = Header(
        tool_version=__version__,
        provenance=f"refresh config {os.path.basename(config)} (sha256 {digest}), {len(cfg.targets)} target(s)",
        command=shlex.join(words),
    )
    emit_files(sch.schedule_files(settings, header), out)
