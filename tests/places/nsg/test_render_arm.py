"""ARM template: checked against Microsoft's own deployment and Microsoft.Network schemas (Draft 4)."""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from egress.places.nsg import render_arm
from egress.places.nsg.planner import RuleSet
from egress.places.nsg.rules import PlannedRule
from egress.render import arm_common
from egress.render.common import RenderTarget
from egress.render.header import Header
from tests.helpers import assert_golden
from tests.places.nsg import nsg_cases

NRP = "https://schema.management.azure.com/schemas/2023-09-01/Microsoft.Network.NRP.json"


@lru_cache(maxsize=1)
def _validator(schemas: str) -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    referencing = pytest.importorskip("referencing")
    from referencing.jsonschema import DRAFT4

    root = Path(schemas)

    def load(rel: str) -> dict[str, Any]:
        return json.loads((root / rel).read_text(encoding="utf-8"))

    template_schema = load("2019-04-01/deploymentTemplate.json")
    # The full resource oneOf points at hundreds of files not shipped here: narrow it to the NSG types, keeping
    # the template's own resource base (name, type, location, ...) as Microsoft's schema combines them.
    template_schema = copy.deepcopy(template_schema)
    template_schema["definitions"]["resource"] = {
        "allOf": [
            {"$ref": "#/definitions/resourceBase"},
            {
                "oneOf": [
                    {"$ref": f"{NRP}#/resourceDefinitions/networkSecurityGroups"},
                    {"$ref": f"{NRP}#/resourceDefinitions/networkSecurityGroups_securityRules"},
                ]
            },
        ]
    }
    registry = referencing.Registry().with_resources(
        (doc["id"].rstrip("#"), DRAFT4.create_resource(doc))
        for doc in (
            template_schema,
            load("common/definitions.json"),
            load("2023-09-01/Microsoft.Network.NRP.json"),
        )
    )
    return jsonschema.Draft4Validator(template_schema, registry=registry)


@pytest.fixture(scope="module")
def validator(shared_data: Path) -> Any:
    schemas = shared_data.parent / "reference" / "arm-schemas" / "schemas"
    return _validator(str(schemas))


def _errors(validator: Any, doc: dict[str, Any]) -> list[str]:
    return sorted(f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(doc))


def _template(shared_data: Path, case: str) -> dict[str, Any]:
    return json.loads(nsg_cases.render(shared_data, case, "arm"))


@pytest.mark.parametrize("case", list(nsg_cases.CASES))
def test_golden(shared_data: Path, case: str) -> None:
    assert_golden(f"render/{case}/{render_arm.FILE_NAME}", nsg_cases.render(shared_data, case, "arm"))


@pytest.mark.parametrize("case", list(nsg_cases.CASES))
def test_template_validates_against_microsofts_schemas(shared_data: Path, validator: Any, case: str) -> None:
    assert _errors(validator, _template(shared_data, case)) == []


@pytest.mark.parametrize("case", list(nsg_cases.CASES))
def test_template_has_what_a_deployment_needs(shared_data: Path, case: str) -> None:
    # The schema lets unknown or missing optional names pass, so the keys a deployment relies on are checked here.
    doc = _template(shared_data, case)
    rules = nsg_cases.ruleset(shared_data, case)
    assert doc["$schema"] == arm_common.SCHEMA
    assert set(doc["parameters"]) == {"nsgName", "location"}
    assert doc["parameters"]["location"]["defaultValue"] == "[resourceGroup().location]"
    (nsg,) = doc["resources"]
    assert (nsg["type"], nsg["apiVersion"]) == ("Microsoft.Network/networkSecurityGroups", "2023-09-01")
    assert (nsg["name"], nsg["location"]) == ("[parameters('nsgName')]", "[parameters('location')]")
    rendered = nsg["properties"]["securityRules"]
    assert rendered == [
        rule.to_arm() for rule in rules.rules
    ]  # no rule string starts with `[` and ends with `]`
    for rule in rendered:
        props = rule["properties"]
        assert {"access", "direction", "priority", "protocol"} <= set(props)
        for singular, plural in (
            ("sourceAddressPrefix", "sourceAddressPrefixes"),
            ("destinationAddressPrefix", "destinationAddressPrefixes"),
            ("sourcePortRange", "sourcePortRanges"),
            ("destinationPortRange", "destinationPortRanges"),
        ):
            assert (singular in props) != (plural in props), (rule["name"], singular)
    generator = doc["metadata"]["_generator"]
    assert generator["name"] == "egress" and generator["version"] == nsg_cases.VERSION
    assert generator["provenance"].startswith(
        "Public cloud, changeNumber 343, ServiceTags_Public_20250127.json"
    )
    assert generator["command"].startswith(
        "egress render --data ServiceTags_Public_20250127.json --format arm "
    )


def test_nsg_name_becomes_the_parameter_default(shared_data: Path) -> None:
    named = _template(shared_data, "proxy")["parameters"]["nsgName"]
    unnamed = _template(shared_data, "service-tags-eastus")["parameters"]["nsgName"]
    assert named["defaultValue"] == "nsg-backup"
    assert "defaultValue" not in unnamed  # a required parameter: the deployer must name the NSG


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("properties", "protocol"), "TCP/IP"),
        (("properties", "access"), "Permit"),
        (("properties", "direction"), "Sideways"),
        (("properties", "priority"), "high"),
        (("properties", "destinationAddressPrefixes"), "10.0.0.0/8"),
    ],
)
def test_negative_control_bad_values_fail_validation(
    shared_data: Path, validator: Any, path: tuple[str, str], value: Any
) -> None:
    doc = _template(shared_data, "proxy")
    rule = doc["resources"][0]["properties"]["securityRules"][0]
    rule[path[0]][path[1]] = value
    problems = _errors(validator, doc)
    assert problems, f"a rule with {path[1]}={value!r} passed the schema"


def test_negative_control_bad_api_version_and_template_shape(shared_data: Path, validator: Any) -> None:
    doc = _template(shared_data, "proxy")
    doc["resources"][0]["apiVersion"] = "2015-01-01"
    assert _errors(validator, doc)
    doc = _template(shared_data, "proxy")
    del doc["contentVersion"]
    assert _errors(validator, doc)
    doc = _template(shared_data, "proxy")
    doc["parameters"]["nsgName"]["type"] = "text"
    assert _errors(validator, doc)


def test_strings_that_look_like_expressions_are_escaped() -> None:
    assert arm_common.arm_literal("[concat('a')]") == "[[concat('a')]"
    assert arm_common.arm_literal("[egress] allow x") == "[egress] allow x"  # not an expression: left alone
    assert arm_common.arm_literal(["[x]", {"k": "[y]"}, 3]) == ["[[x]", {"k": "[[y]"}, 3]
    rule = PlannedRule(
        name="r1",
        direction="Outbound",
        access="Allow",
        protocol="Tcp",
        source=("VirtualNetwork",),
        destination=("10.0.0.0/8",),
        description="[parameters('x')]",
        priority=200,
    )
    ruleset = RuleSet(rules=(rule,), spec=nsg_cases.CASES["proxy"][0], provenance={})
    header = Header(tool_version="TEST", provenance="test", command="egress render --format arm")
    doc = render_arm.template(ruleset, header, RenderTarget())
    assert doc["resources"][0]["properties"]["securityRules"][0]["properties"]["description"] == (
        "[[parameters('x')]"
    )
