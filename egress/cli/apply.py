"""`egress apply`: bring one NSG (live or a local file) to the planned rules, touching only egress's own."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import typer

from egress.cli import app
from egress.cli import guard_options as g
from egress.cli import spec_options as o
from egress.cli.common import ARM_ENDPOINT_OPTION, AUTH_OPTION, auth_method, load, note
from egress.errors import ExitCode, SafetyError, TargetError, UsageError
from egress.places.common import DEFAULT_MAX_DELETES

if TYPE_CHECKING:  # the core is imported when apply runs, keeping `egress --help` and `plan` light
    from egress.places.nsg.reconcile import ApplyPlan


def _confirm(plan: ApplyPlan) -> bool:
    if not sys.stdin.isatty():
        raise SafetyError("not applied: standard input is not a terminal, so nobody can confirm; pass --yes.")
    return typer.confirm("Apply these changes?", default=False, err=True)


@app.command("apply")
@o.rule_inputs
def apply(
    inputs: o.RuleInputs,
    target: str | None = typer.Option(
        None,
        "--target",
        help="azure:/subscriptions/.../networkSecurityGroups/NAME (or .../routeTables/NAME, "
        ".../firewallPolicies/P/ruleCollectionGroups/G; or the bare id), or a JSON file.",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan and stop."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Apply without asking."),
    detailed_exitcode: bool = typer.Option(
        False, "--detailed-exitcode", help="With --dry-run: exit 3 when changes are pending."
    ),
    max_deletes: int = typer.Option(
        DEFAULT_MAX_DELETES, "--max-deletes", help="Refuse plans deleting more rules."
    ),
    force: bool = typer.Option(False, "--force", help="Override --max-deletes."),
    max_growth: float = g.MAX_GROWTH,
    min_prefix_v4: int = g.MIN_PREFIX_V4,
    min_prefix_v6: int = g.MIN_PREFIX_V6,
    arm_endpoint: str | None = ARM_ENDPOINT_OPTION,
    auth: str = AUTH_OPTION,
    output: str = typer.Option("table", "--output", "-o", help="table | json"),
) -> None:
    """Plan against the NSG, show the changes, and write them in one etag-guarded update."""
    if output not in ("table", "json"):
        raise UsageError(f"--output {output!r}: use table or json.")
    if max_deletes < 0:
        raise UsageError("--max-deletes must be 0 or more.")
    auth = auth_method(auth)
    growth = g.growth_limits(max_growth, min_prefix_v4, min_prefix_v6)
    spec, configured = inputs.spec()
    where = target or (configured.target if configured else None)
    discover = configured is not None and configured.discover is not None and not target
    if not where and not discover:
        raise UsageError("apply needs --target (or --config with --target-name).")
    dataset = load(spec.data, spec.cloud)

    from egress.places import get_place
    from egress.workflows.apply import run_apply

    place = get_place(spec.place)
    if discover:
        assert configured is not None
        applied = pending = False
        for found, session in _discovered(configured, spec, arm_endpoint, auth):
            if place.name == "nsg":
                shared = {"session": session}
            else:  # route tables and firewall policies: the session's one sign-in
                from egress.adapters.azure import resolve_endpoint

                shared = {"credential": session.credential(resolve_endpoint(spec.cloud, arm_endpoint))}
            one = place.open_target(found, cloud=spec.cloud, arm_endpoint=arm_endpoint, **shared)
            done = _apply_one(place, one, spec, dataset, dry_run, yes, max_deletes, force, output, growth)
            applied, pending = applied or done.applied, pending or done.plan.has_changes
        if applied or (dry_run and detailed_exitcode and pending):
            raise typer.Exit(int(ExitCode.CHANGES))
        return
    nsg_target = place.open_target(where, cloud=spec.cloud, arm_endpoint=arm_endpoint, auth=auth)

    shown: list[ApplyPlan] = []

    def show(plan: ApplyPlan) -> None:
        shown.append(plan)
        if output == "json":
            return
        typer.echo(place.plan_text(plan, nsg_target.label), nl=False)

    try:
        outcome = run_apply(
            nsg_target,
            spec,
            dataset,
            dry_run=dry_run,
            max_deletes=max_deletes,
            force=force,
            confirm=None if yes else _confirm,
            show=show,
            growth=growth,
            planner=place.plan_apply,
        )
    except SafetyError as refused:
        if output == "json" and shown:  # the refused plan is what the reviewer needs to see
            doc = shown[-1].to_json()
            doc.update(applied=False, dryRun=dry_run, refused=str(refused), target=nsg_target.label)
            typer.echo(json.dumps(doc, indent=2, sort_keys=True))
        raise
    finally:
        nsg_target.close()
    if output == "json":
        doc = outcome.plan.to_json()
        doc.update(
            applied=outcome.applied, dryRun=dry_run, requests=outcome.requests, target=nsg_target.label
        )
        typer.echo(json.dumps(doc, indent=2, sort_keys=True))
    elif outcome.applied:
        typer.echo(f"Applied to {nsg_target.label}.")
    elif not outcome.plan.has_changes:
        typer.echo("No changes.")
    if outcome.applied or (dry_run and detailed_exitcode and outcome.plan.has_changes):
        raise typer.Exit(int(ExitCode.CHANGES))


def _discovered(configured: Any, spec: Any, arm_endpoint: str | None, auth: str) -> Iterator[tuple[str, Any]]:
    """The NSGs a `discover` entry finds (one Resource Graph query), sharing one sign-in; in name order."""
    from dataclasses import replace

    from egress.adapters.azure.session import AzureSession
    from egress.workflows.fleet import expand_targets

    with AzureSession(auth) as session:
        found, _ = expand_targets([replace(configured, spec=spec)], session, arm_endpoint, note)
        if not found:
            raise TargetError(
                f"{configured.name}: Resource Graph found no {configured.discover.noun} to apply to."
            )
        for e in found:
            if e.error is not None:
                raise e.error
        for e in found:
            yield e.config.target, session


def _apply_one(
    place: Any,
    nsg_target: Any,
    spec: Any,
    dataset: Any,
    dry_run: bool,
    yes: bool,
    max_deletes: int,
    force: bool,
    output: str,
    growth: Any,
) -> Any:
    """One NSG of a `discover` entry, as `apply --target` would do it (growth guard included); its ApplyOutcome."""
    from egress.workflows.apply import run_apply

    def show(plan: ApplyPlan) -> None:
        if output != "json":
            typer.echo(place.plan_text(plan, nsg_target.label), nl=False)

    try:
        outcome = run_apply(
            nsg_target,
            spec,
            dataset,
            dry_run=dry_run,
            max_deletes=max_deletes,
            force=force,
            confirm=None if yes else _confirm,
            show=show,
            growth=growth,
            planner=place.plan_apply,
        )
    finally:
        nsg_target.close()
    if output == "json":
        doc = outcome.plan.to_json()
        doc.update(
            applied=outcome.applied, dryRun=dry_run, requests=outcome.requests, target=nsg_target.label
        )
        typer.echo(json.dumps(doc, indent=2, sort_keys=True))
    elif outcome.applied:
        typer.echo(f"Applied to {nsg_target.label}.")
    elif not outcome.plan.has_changes:
        typer.echo(f"No changes to {nsg_target.label}.")
    return outcome
