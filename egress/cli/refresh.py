"""`egress refresh`: bring every NSG of a config to this week's data, unattended (see egress.workflows.refresh)."""

from __future__ import annotations

import typer

from egress.cli import app
from egress.cli import guard_options as g
from egress.cli.common import ARM_ENDPOINT_OPTION, AUTH_OPTION, auth_method, note
from egress.core.shrink import DEFAULT_MAX_SHRINK
from egress.errors import UsageError
from egress.places.common import DEFAULT_MAX_DELETES

OUTPUTS = ("text", "json", "markdown")


@app.command("refresh")
def refresh(
    config: str = typer.Option(..., "--config", help="TOML file with [defaults] and [[targets]] (the NSGs)."),
    apply: bool = typer.Option(
        False, "--apply", help="Write the changes (default: report what would change)."
    ),
    data: str | None = typer.Option(
        None,
        "--data",
        help="Use this service-tag file instead of fetching this week's (overrides the config).",
    ),
    output: str = typer.Option("text", "--output", "-o", help="text | json | markdown (a PR comment)."),
    max_shrink: float = typer.Option(
        DEFAULT_MAX_SHRINK,
        "--max-shrink",
        help="Refuse a target when a tag it uses lost more than this percent of its addresses (or vanished).",
    ),
    concurrency: int = typer.Option(4, "--concurrency", help="Targets processed at once (threads)."),
    target_name: list[str] | None = typer.Option(
        None, "--target-name", help="Only this [[targets]] or [[exports]] entry (repeatable). Default: all."
    ),
    lock_timeout: float = typer.Option(
        0.0, "--lock-timeout", help="Seconds to wait for another refresh run to finish (default: don't wait)."
    ),
    max_deletes: int = typer.Option(
        DEFAULT_MAX_DELETES, "--max-deletes", help="Refuse a target whose plan deletes more rules."
    ),
    force: bool = typer.Option(False, "--force", help="Override --max-deletes."),
    max_growth: float = g.MAX_GROWTH,
    min_prefix_v4: int = g.MIN_PREFIX_V4,
    min_prefix_v6: int = g.MIN_PREFIX_V6,
    allow_older: bool = typer.Option(
        False, "--allow-older", help="Let an explicit --data older than a target's data roll it back."
    ),
    arm_endpoint: str | None = ARM_ENDPOINT_OPTION,
    auth: str = AUTH_OPTION,
    page_url: str | None = typer.Option(
        None, "--page-url", help="Details page to find the weekly file on (default: Microsoft's)."
    ),
    no_graph: bool = typer.Option(
        False,
        "--no-graph",
        help="Read every NSG with a GET instead of skipping those whose Resource Graph row already matches.",
    ),
) -> None:
    """Fetch this week's data and plan (with --apply: write) every configured NSG; exit 0 no change,
    3 changed, 4 refused, 1 error."""
    if output not in OUTPUTS:
        raise UsageError(f"--output {output!r}: use text, json or markdown.")
    auth = auth_method(auth)
    if data is not None and not data.strip():  # not a request to fetch: an empty variable, most likely
        raise UsageError(
            "--data is empty: give a service-tag file, or leave --data out to fetch this week's."
        )
    if data and page_url:
        raise UsageError("--page-url is for fetching; it has no effect with --data.")
    if page_url is not None:
        from egress.adapters.download import check_page_url

        check_page_url(page_url)

    from egress.cli.spec_options import read_config
    from egress.workflows.refresh import RefreshOptions, run_refresh

    cfg = read_config(config)
    options = RefreshOptions(
        apply=apply,
        data=data,
        max_shrink=max_shrink,
        concurrency=concurrency,
        auth=auth,
        arm_endpoint=arm_endpoint,
        max_deletes=max_deletes,
        force=force,
        target_names=tuple(target_name or ()),
        lock_timeout=lock_timeout,
        page_url=page_url,
        growth=g.growth_limits(max_growth, min_prefix_v4, min_prefix_v6),
        allow_older=allow_older,
        graph=not no_graph,
    )
    report = run_refresh(cfg, config, options, say=note)
    if output == "json":
        typer.echo(report.to_json_text(), nl=False)
    elif output == "markdown":
        typer.echo(report.to_markdown(), nl=False)
    else:
        typer.echo(report.to_text(), nl=False)
    raise typer.Exit(int(report.exit_code))
