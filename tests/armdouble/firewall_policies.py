"""Firewall policies and their rule collection groups for the ARM double: GET of a policy (seeded: enough to hold
groups), GET / PUT of a rule collection group with ARM's ETag / If-Match, LRO and busy behaviour (resources.py),
and the Network resource provider's checks of a group.

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
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tests.armdouble.resources import Failure, Reply, ResourceStore, error, key, not_found, scope
from tests.armdouble.validation import ArmValidationError, check_name

if TYPE_CHECKING:
    from tests.armdouble.server import ArmDouble

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


def policy_id(sub: str, rg: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{POLICY_TYPE}/{name}"


def _policy_of(group_id: str) -> str:
    return group_id[: group_id.lower().rindex("/rulecollectiongroups/")]


class FirewallPolicyStore(ResourceStore):
    """Policies (seeded, read by GET: enough to hold groups) and, in `rule_collection_groups`, their groups."""

    TYPE = POLICY_TYPE
    NOUN = "firewall policy"
    KINDS = KINDS
    SHARED_WITH_TOPOLOGY = True

    def __init__(self, double: ArmDouble) -> None:
        super().__init__(double)
        self.rule_collection_groups = RuleCollectionGroupStore(double, self)

    @property
    def policies(self) -> dict[str, dict[str, Any]]:
        return self.docs

    @property
    def groups(self) -> dict[str, dict[str, Any]]:
        return self.rule_collection_groups.docs

    # -- test API --------------------------------------------------------------------------------------------

    def seed_policy(
        self, resource_id: str, location: str = "eastus", tags: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        sub, rg, name = scope(resource_id)
        return self.seed(policy_id(sub, rg, name), {"location": location, "tags": tags})

    def seed_group(self, policy: str, name: str, properties: Mapping[str, Any]) -> dict[str, Any]:
        """Create or replace a group without validation (its policy must be seeded); return it as GET would."""
        pdoc = self.docs[key(policy)]
        return self.rule_collection_groups.seed(
            f"{pdoc['id']}/ruleCollectionGroups/{name}", {"properties": properties}
        )

    def group(self, group_id: str) -> dict[str, Any] | None:
        return self.rule_collection_groups.get(group_id)

    def edit_group(self, group_id: str, edit: Any) -> dict[str, Any]:
        return self.rule_collection_groups.edit(group_id, edit)

    # -- requests --------------------------------------------------------------------------------------------

    def handle(self, rec: Any, kind: str, args: tuple[str, ...], failure: Failure) -> Reply | None:
        method = rec.method if rec.method != "HEAD" else "GET"
        # A GET of what this store does not hold goes to the topology store (None), which answers 404 too.
        if kind == "firewall-policy" and method == "GET":
            return self.read(policy_id(*args))
        if kind == "rule-collection-group":
            return self.rule_collection_groups.handle(rec, kind, args, failure)
        return None

    def build(
        self, rid: str, name: str, location: str, props: Mapping[str, Any], *, tags: Any, etag: str, state: str,
        previous: Mapping[str, Any] | None,
    ) -> dict[str, Any]:  # fmt: skip
        return {
            "name": name,
            "id": rid,
            "type": POLICY_TYPE,
            "etag": etag,
            "location": location,
            **({"tags": dict(tags)} if tags else {}),
            "properties": {
                "provisioningState": state,
                "sku": copy.deepcopy(props.get("sku") or {"tier": "Standard"}),
                "ruleCollectionGroups": self._listed(rid),
            },
        }

    def _listed(self, rid: str) -> list[dict[str, str]]:
        """Read-only in ARM: a policy names its rule collection groups."""
        prefix = key(rid) + "/"
        return [{"id": g["id"]} for k, g in sorted(self.groups.items()) if k.startswith(prefix)]

    def relist(self, rid: str) -> None:
        doc = self.docs.get(key(rid))
        if doc is not None:
            doc["properties"]["ruleCollectionGroups"] = self._listed(rid)


class RuleCollectionGroupStore(ResourceStore):
    """A policy's rule collection groups: child resources with documents (and etags) of their own."""

    TYPE = GROUP_TYPE
    NOUN = "rule collection group"
    KINDS = frozenset({"rule-collection-group"})
    READ_ONLY = ("provisioningState", "size")
    SHARED_WITH_TOPOLOGY = True

    def __init__(self, double: ArmDouble, policies: FirewallPolicyStore) -> None:
        super().__init__(double)
        self.policies = policies

    def handle(self, rec: Any, kind: str, args: tuple[str, ...], failure: Failure) -> Reply | None:
        method = rec.method if rec.method != "HEAD" else "GET"
        pid = policy_id(*args[:3])
        gid = f"{pid}/ruleCollectionGroups/{args[3]}"
        if method == "GET":
            reply = self.read(gid)
            if reply is None and key(pid) in self.policies.docs and self.double.topology.get(gid) is None:
                return Reply(404, error("NotFound", f"Resource {gid} not found."))
            return reply
        if method == "PUT":
            if self.policies.current(key(pid)) is None:
                return not_found(POLICY_TYPE, args[1], args[2])
            return self.put(rec, gid, failure)
        return None

    def placed(self, rid: str, current: Mapping[str, Any] | None, location: Any) -> str:
        """A group lives where its policy does (a seeded policy takes groups too)."""
        pdoc = self.policies.current(key(_policy_of(rid)))
        assert pdoc is not None  # handle() answered 404 otherwise
        return str(pdoc["location"])

    def validate(self, rid: str, props: Mapping[str, Any]) -> None:
        check_name(rid.rsplit("/", 1)[-1], self.NOUN)
        prefix = key(_policy_of(rid)) + "/"
        others = {
            g["properties"].get("priority"): g["name"]
            for k, g in self.docs.items()
            if k.startswith(prefix) and k != key(rid)
        }
        check_group(rid, props, others, self.tags_for("FW"))

    def written(self, doc: dict[str, Any]) -> None:
        self.policies.relist(_policy_of(doc["id"]))

    def build(
        self, rid: str, name: str, location: str, props: Mapping[str, Any], *, tags: Any, etag: str, state: str,
        previous: Mapping[str, Any] | None,
    ) -> dict[str, Any]:  # fmt: skip
        collections = copy.deepcopy(list(props.get("ruleCollections") or []))
        size = len(json.dumps(collections, separators=(",", ":")).encode()) / (1024 * 1024)
        return {
            "name": name,
            "id": rid,
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
