"""`egress apply`: bring one NSG (live or a local file) to the planned rules, touching only egress's own."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
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

    place = get_place(spec.place)
    settings = _Settings(dry_run, yes, max_deletes, force, output, growth)
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
            done = _apply_one(place, one, spec, dataset, settings)
            applied, pending = applied or done.applied, pending or done.plan.has_changes
    else:
        one = place.open_target(where, cloud=spec.cloud, arm_endpoint=arm_endpoint, auth=auth)
        done = _apply_one(place, one, spec, dataset, settings)
        applied, pending = done.applied, done.plan.has_changes
    if applied or (dry_run and detailed_exitcode and pending):
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


@dataclass(frozen=True, slots=True)
class _Settings:
    """How apply runs, the same for every target it brings to the plan."""

    dry_run: bool
    yes: bool
    max_deletes: int
    force: bool
    output: str
    growth: Any


def _apply_one(place: Any, target: Any, spec: Any, dataset: Any, how: _Settings) -> Any:
    """Bring one target (listed, or found by a `discover` entry) to the plan; its ApplyOutcome. With `-o json`
    a refused plan is printed too (the reviewer needs to see it) before the refusal ends the run."""
    from egress.workflows.apply import run_apply

    shown: list[ApplyPlan] = []

    def show(plan: ApplyPlan) -> None:
        shown.append(plan)
        if how.output != "json":
            typer.echo(place.plan_text(plan, target.label), nl=False)

    try:
        outcome = run_apply(
            target,
            spec,
            dataset,
            dry_run=how.dry_run,
            max_deletes=how.max_deletes,
            force=how.force,
            confirm=None if how.yes else _confirm,
            show=show,
            growth=how.growth,
            planner=place.plan_apply,
        )
    except SafetyError as refused:
        if how.output == "json" and shown:
            doc = shown[-1].to_json()
            doc.update(applied=False, dryRun=how.dry_run, refused=str(refused), target=target.label)
            typer.echo(json.dumps(doc, indent=2, sort_keys=True))
        raise
    finally:
        target.close()
    if how.output == "json":
        doc = outcome.plan.to_json()
        doc.update(
            applied=outcome.applied, dryRun=how.dry_run, requests=outcome.requests, target=target.label
        )
        typer.echo(json.dumps(doc, indent=2, sort_keys=True))
    elif outcome.applied:
        typer.echo(f"Applied to {target.label}.")
    elif not outcome.plan.has_changes:
        typer.echo(f"No changes to {target.label}.")
    return outcome
