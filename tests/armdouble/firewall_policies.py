"""Firewall policies and their rule collection groups for the ARM double: GET / PUT of a policy (enough to hold
groups), GET / PUT of a rule collection group with the NSG's ETag / If-Match, LRO and busy behaviour, and the
Network resource provider's checks of a group.

Shapes follow Microsoft's examples (FirewallPolicyRuleCollectionGroupGet.json / Put.json): the group carries
`priority`, `ruleCollections[]`, `provisioningState` and a read-only `size` ("0.001MB"). Checks (codes are the
double's own names unless marked observed):
- a group needs its policy (404 otherwise); priorities 100-65000; a group's priority unique in its policy;
- rule collections: a known ruleCollectionType, unique names, priorities 100-65000 unique within the group,
  filter actions Allow/Deny; rules of a known ruleType with unique names in their collection;
- application rules: protocols Http/Https with ports 0-64000, a target (FQDNs, FQDN tags, URLs or web
  categories), FQDN tags Azure knows;
- network rules: protocols TCP/UDP/Any/ICMP, destination ports, destinations that are addresses or service
  tags whose networkFeatures list FW (when the double serves a tag file);
- the group's size under 2 MB.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tests.armdouble.validation import ArmValidationError, check_name

if TYPE_CHECKING:
    from tests.armdouble.server import ArmDouble, RecordedRequest, _Operation, _Reply

POLICY_TYPE = "Microsoft.Network/firewallPolicies"
GROUP_TYPE = "Microsoft.Network/firewallPolicies/ruleCollectionGroups"
PRIORITY_RANGE = (100, 65000)
MAX_GROUP_BYTES = 2 * 1024 * 1024
COLLECTION_TYPES = ("FirewallPolicyFilterRuleCollection", "FirewallPolicyNatRuleCollection")
# Azure Firewall's FQDN tags (az network firewall list-fqdn-tags); AzureBackup is the one egress uses.
FQDN_TAGS = frozenset(
    t.lower()
    for t in (
        "AppServiceEnvironment", "AzureBackup", "AzureKubernetesService", "MicrosoftActiveProtectionService",
        "WindowsDiagnostics", "WindowsUpdate", "WindowsVirtualDesktop", "Windows365", "Office365.Exchange.Optimize",
        "Office365.SharePoint.Optimize", "Office365.Skype.Optimize", "MicrosoftIntune", "CitrixHDXPlusForWindows365",
    )
)  # fmt: skip
_SEG = r"([^/]+)"
_BASE = rf"/subscriptions/{_SEG}/resourcegroups/{_SEG}/providers/microsoft\.network/firewallpolicies"
ROUTES = (
    ("firewall-policy", rf"^{_BASE}/{_SEG}"),
    ("rule-collection-group", rf"^{_BASE}/{_SEG}/rulecollectiongroups/{_SEG}"),
)
KINDS = frozenset(kind for kind, _ in ROUTES)
_POLICY_ID = re.compile(rf"^{_BASE}/{_SEG}/?$", re.IGNORECASE)


def policy_id(sub: str, rg: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{POLICY_TYPE}/{name}"


def _key(resource_id: str) -> str:
    return resource_id.strip().rstrip("/").lower()


def _etag() -> str:
    return f'W/"{uuid.uuid4()}"'


class FirewallPolicyStore:
    KINDS = KINDS

    def __init__(self, double: ArmDouble) -> None:
        self.double = double
        self.policies: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, dict[str, Any]] = {}  # key: the group's id, lower-cased

    # -- test API --------------------------------------------------------------------------------------------

    def seed_policy(
        self, resource_id: str, location: str = "eastus", tags: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        m = _POLICY_ID.match(resource_id.strip())
        if not m:
            raise ValueError(f"not a firewall policy id: {resource_id!r}")
        sub, rg, name = m.groups()
        with self.double._lock:
            doc = {
                "name": name,
                "id": policy_id(sub, rg, name),
                "type": POLICY_TYPE,
                "etag": _etag(),
                "location": location,
                **({"tags": dict(tags)} if tags else {}),
                "properties": {
                    "provisioningState": "Succeeded",
                    "sku": {"tier": "Standard"},
                    "ruleCollectionGroups": [],
                },
            }
            self.policies[_key(doc["id"])] = doc
            return copy.deepcopy(doc)

    def seed_group(self, policy: str, name: str, properties: Mapping[str, Any]) -> dict[str, Any]:
        """Create or replace a group without validation (its policy must be seeded); return it as GET would."""
        with self.double._lock:
            pdoc = self.policies[_key(policy)]
            doc = self._build(pdoc, name, dict(properties), _etag(), "Succeeded")
            self.groups[_key(doc["id"])] = doc
            self._link(pdoc)
            return copy.deepcopy(doc)

    def group(self, group_id: str) -> dict[str, Any] | None:
        with self.double._lock:
            doc = self.groups.get(_key(group_id))
            return copy.deepcopy(doc) if doc is not None else None

    def edit_group(self, group_id: str, edit: Any) -> dict[str, Any]:
        with self.double._lock:
            doc = self.groups[_key(group_id)]
            draft = copy.deepcopy(doc)
            edit(draft)
            pdoc = self.policies[_key(doc["id"].rsplit("/ruleCollectionGroups/", 1)[0])]
            new = self._build(pdoc, doc["name"], draft["properties"], _etag(), "Succeeded")
            self.groups[_key(doc["id"])] = new
            return copy.deepcopy(new)

    # -- requests --------------------------------------------------------------------------------------------

    def handle(self, rec: RecordedRequest, kind: str, args: tuple[str, ...], failure: Any) -> _Reply | None:
        method = rec.method if rec.method != "HEAD" else "GET"
        # A GET of what this store does not hold goes to the topology store (None), which answers 404 too.
        if kind == "firewall-policy" and method == "GET":
            doc = self.policies.get(_key(policy_id(*args)))
            return None if doc is None else self._reply(200, copy.deepcopy(doc), {"ETag": doc["etag"]})
        if kind == "rule-collection-group" and method == "GET":
            gid = policy_id(*args[:3]) + f"/ruleCollectionGroups/{args[3]}"
            doc = self.groups.get(_key(gid))
            if doc is not None:
                return self._reply(200, copy.deepcopy(doc), {"ETag": doc["etag"]})
            if _key(policy_id(*args[:3])) in self.policies and self.double.topology.get(gid) is None:
                from tests.armdouble.server import _error

                return self._reply(404, _error("NotFound", f"Resource {gid} not found."))
            return None
        if kind == "rule-collection-group" and method == "PUT":
            return self._put_group(rec, *args, failure=failure)
        return None

    def finish(self, op: _Operation) -> bool:
        if op.action != "put-rule-collection-group":
            return False
        if op.failure is None:
            doc = self.groups.get(op.key)
            if doc is not None:
                doc["properties"]["provisioningState"] = "Succeeded"
            return True
        if op.rollback is None:
            self.groups.pop(op.key, None)
            return True
        old = copy.deepcopy(op.rollback)
        old["etag"] = _etag()
        old["properties"]["provisioningState"] = "Failed"
        self.groups[op.key] = old
        return True

    def _reply(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> _Reply:
        from tests.armdouble.server import _Reply

        return _Reply(status, body, headers or {})

    def _not_found(self, kind: str, rg: str, name: str) -> _Reply:
        from tests.armdouble.server import _error

        return self._reply(
            404,
            _error(
                "ResourceNotFound",
                f"The Resource '{kind}/{name}' under resource group '{rg}' was not found. For more details please "
                "go to https://aka.ms/ARMResourceNotFoundFix",
            ),
        )

    def _put_group(
        self, rec: RecordedRequest, sub: str, rg: str, policy: str, name: str, *, failure: Any
    ) -> _Reply:
        pid = _key(policy_id(sub, rg, policy))
        pdoc = self.policies.get(pid) or self.double.topology.get(pid)  # a seeded policy takes groups too
        if pdoc is None:
            return self._not_found(POLICY_TYPE, rg, policy)
        gid = _key(pdoc["id"] + f"/ruleCollectionGroups/{name}")
        current = self.groups.get(gid) or self.double.topology.get(gid)
        refused = self.double._precondition(rec, current) or (self.double._busy(gid) if current else None)
        if refused:
            return refused
        body = rec.body
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            raise ArmValidationError(
                "InvalidRequestContent", "The request content must be a JSON object with properties."
            )
        check_name(name, "rule collection group")
        props = {k: v for k, v in body["properties"].items() if k not in ("provisioningState", "size")}
        others = {
            g["properties"].get("priority"): g["name"]
            for k, g in self.groups.items()
            if k.startswith(_key(pdoc["id"]) + "/") and k != gid
        }
        check_group(pdoc["id"] + f"/ruleCollectionGroups/{name}", props, others, self._firewall_tags())
        doc = self._build(pdoc, current["name"] if current else name, props, _etag(), "Updating")
        self.groups[gid] = doc
        self.double.topology.remove(gid)  # written here from now on
        self._link(pdoc)
        _, headers = self.double._start_op(
            rec, gid, sub, pdoc["location"], "put-rule-collection-group", copy.deepcopy(current), failure
        )
        return self._reply(201 if current is None else 200, copy.deepcopy(doc), headers)

    def _firewall_tags(self) -> set[str] | None:
        tags = self.double._tags
        if tags is None:
            return None
        out = set()
        for value in tags.get("values", []):
            props = value.get("properties") or {}
            # An old file without the field says nothing (allowed); a null list, as AzureBackup.<Region> has, is none.
            features = props.get("networkFeatures") if "networkFeatures" in props else ["FW"]
            if features and "FW" in features:
                out.add(str(value.get("name", "")).lower())
        return out

    def _link(self, pdoc: dict[str, Any]) -> None:
        prefix = _key(pdoc["id"]) + "/"
        pdoc["properties"]["ruleCollectionGroups"] = [
            {"id": g["id"]} for k, g in sorted(self.groups.items()) if k.startswith(prefix)
        ]

    @staticmethod
    def _build(
        pdoc: Mapping[str, Any], name: str, props: Mapping[str, Any], etag: str, state: str
    ) -> dict[str, Any]:
        collections = copy.deepcopy(list(props.get("ruleCollections") or []))
        size = len(json.dumps(collections, separators=(",", ":")).encode()) / (1024 * 1024)
        return {
            "name": name,
            "id": f"{pdoc['id']}/ruleCollectionGroups/{name}",
            "type": GROUP_TYPE,
            "etag": etag,
            "properties": {
                "size": f"{size:.3f}MB",
                "provisioningState": state,
                "priority": props.get("priority"),
                "ruleCollections": collections,
            },
        }


def _address(value: str) -> bool:
    try:
        ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return "-" in value and all(_address(part) for part in value.split("-", 1))  # an address range
    return True


def _priority(value: Any, what: str) -> int:
    low, high = PRIORITY_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ArmValidationError(
            "InvalidPriority", f"{what}: priority {value!r} must be an integer from {low} to {high}."
        )
    return value


def check_group(
    gid: str, props: Mapping[str, Any], other_priorities: Mapping[Any, str], fw_tags: set[str] | None
) -> None:
    priority = _priority(props.get("priority"), f"Rule collection group {gid}")
    if priority in other_priorities:
        raise ArmValidationError(
            "RuleCollectionGroupPriorityNotUnique",
            f"Rule collection group {gid}: priority {priority} is already used by group {other_priorities[priority]}.",
        )
    collections = props.get("ruleCollections") or []
    if not isinstance(collections, list):
        raise ArmValidationError("InvalidRequestFormat", "ruleCollections must be a list.")
    if len(json.dumps(collections, separators=(",", ":")).encode()) > MAX_GROUP_BYTES:
        raise ArmValidationError(
            "RuleCollectionGroupSizeExceeded", f"Rule collection group {gid} exceeds 2 MB."
        )
    names: set[str] = set()
    priorities: dict[int, str] = {}
    for c in collections:
        if not isinstance(c, Mapping):
            raise ArmValidationError("InvalidRequestFormat", "Each rule collection must be a JSON object.")
        cname = c.get("name")
        check_name(cname, "rule collection")
        assert isinstance(cname, str)
        where = f"Rule collection {cname} in {gid}"
        if cname.lower() in names:
            raise ArmValidationError("DuplicateRuleCollectionName", f"{where}: the name is used twice.")
        names.add(cname.lower())
        if c.get("ruleCollectionType") not in COLLECTION_TYPES:
            raise ArmValidationError(
                "InvalidRuleCollectionType", f"{where}: ruleCollectionType {c.get('ruleCollectionType')!r}."
            )
        cp = _priority(c.get("priority"), where)
        if cp in priorities:
            raise ArmValidationError(
                "RuleCollectionPriorityNotUnique", f"{where}: priority {cp} is also held by {priorities[cp]}."
            )
        priorities[cp] = cname
        action = (c.get("action") or {}).get("type")
        allowed = ("Allow", "Deny") if c["ruleCollectionType"] == COLLECTION_TYPES[0] else ("DNAT",)
        if action not in allowed:
            raise ArmValidationError(
                "InvalidRuleCollectionAction", f"{where}: action {action!r} is not {' or '.join(allowed)}."
            )
        rule_names: set[str] = set()
        for r in c.get("rules") or []:
            _check_rule(where, r, rule_names, fw_tags)


def _check_rule(where: str, r: Any, names: set[str], fw_tags: set[str] | None) -> None:
    if not isinstance(r, Mapping) or not isinstance(r.get("name"), str) or not r["name"]:
        raise ArmValidationError("InvalidRequestFormat", f"{where}: every rule needs a name.")
    label = f"{where}, rule {r['name']}"
    if r["name"].lower() in names:
        raise ArmValidationError("DuplicateRuleName", f"{label}: the name is used twice in the collection.")
    names.add(r["name"].lower())
    for field in ("sourceAddresses",):
        for value in r.get(field) or []:
            if value != "*" and not _address(str(value)):
                raise ArmValidationError(
                    "InvalidSourceAddress", f"{label}: {value!r} is not an address or prefix."
                )
    if r.get("ruleType") == "ApplicationRule":
        protocols = r.get("protocols") or []
        if not protocols:
            raise ArmValidationError("ApplicationRuleProtocolsRequired", f"{label}: needs protocols.")
        for p in protocols:
            port = p.get("port")
            if (
                p.get("protocolType") not in ("Http", "Https", "Mssql")
                or not isinstance(port, int)
                or not 0 <= port <= 64000
            ):
                raise ArmValidationError("InvalidApplicationRuleProtocol", f"{label}: protocol {p!r}.")
        if not any(r.get(k) for k in ("targetFqdns", "fqdnTags", "targetUrls", "webCategories")):
            raise ArmValidationError(
                "ApplicationRuleTargetRequired",
                f"{label}: needs target FQDNs, FQDN tags, URLs or web categories.",
            )
        for tag in r.get("fqdnTags") or []:
            if str(tag).lower() not in FQDN_TAGS:
                raise ArmValidationError(
                    "InvalidFqdnTag", f"{label}: {tag!r} is not an Azure Firewall FQDN tag."
                )
    elif r.get("ruleType") == "NetworkRule":
        for proto in r.get("ipProtocols") or []:
            if proto not in ("TCP", "UDP", "Any", "ICMP"):
                raise ArmValidationError("InvalidNetworkRuleProtocol", f"{label}: protocol {proto!r}.")
        ports = r.get("destinationPorts") or []
        if not ports:
            raise ArmValidationError(
                "NetworkRuleDestinationPortsRequired", f"{label}: needs destinationPorts."
            )
        for value in r.get("destinationAddresses") or []:
            text = str(value)
            if text == "*" or _address(text):
                continue
            if fw_tags is not None and text.lower() not in fw_tags:
                raise ArmValidationError(
                    "InvalidServiceTagInNetworkRule",
                    f"{label}: destination {text!r} is neither an address nor a service tag Azure Firewall supports.",
                )
    elif r.get("ruleType") != "NatRule":
        raise ArmValidationError("InvalidRuleType", f"{label}: ruleType {r.get('ruleType')!r}.")
