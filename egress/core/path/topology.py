"""The network around each VM, from a JSON array of ARM resources in their REST GET shape.

Accepted input: a list of resources (`id`, `type`, `name`, `location`, `properties`, ...), or the object
`az graph query` prints (`{"data": [...]}`; a `{"value": [...]}` list response works too). Resource Graph spells
types in lower case and sometimes ids too, so every id and type is matched case-insensitively, as ARM does.

Subnets may come inside their virtual network (`properties.subnets`, what a VNet GET and Resource Graph give) or as
resources of their own. Admin rules come as the answer of `POST {vnet}/listNetworkManagerEffectiveSecurityAdminRules`
for one VNet, as a record under the POST's own path (the API's items do not name the VNet; the same record the
live Resource Graph path writes):

    {"id": "<vnet id>/listNetworkManagerEffectiveSecurityAdminRules",
     "type": "Microsoft.Network/virtualNetworks/listNetworkManagerEffectiveSecurityAdminRules",
     "properties": {"virtualNetworkId": "<vnet id>", "value": [ ...items exactly as the API returns them... ]}}

A VNet with no such record was not asked (the report says so); an empty `value` means no admin rule applies.

Nothing is guessed: a reference to a resource the input lacks (a NIC naming a subnet that is not there) makes that
VM `unknown`, and the report names what is missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from egress.core.addrset import looks_like_address
from egress.errors import DataError, EgressError, UsageError
from egress.places.nsg.model import Nsg, parse_nsg_document

MAX_RESOURCES = 200_000  # elements of one input; a Resource Graph export of a large estate stays well below
ADMIN_RULES_TYPE = "microsoft.network/virtualnetworks/listnetworkmanagereffectivesecurityadminrules"

VM = "microsoft.compute/virtualmachines"
NIC = "microsoft.network/networkinterfaces"
VNET = "microsoft.network/virtualnetworks"
SUBNET = "microsoft.network/virtualnetworks/subnets"
NSG = "microsoft.network/networksecuritygroups"
ROUTE_TABLE = "microsoft.network/routetables"
NAT_GATEWAY = "microsoft.network/natgateways"
PUBLIC_IP = "microsoft.network/publicipaddresses"
LOAD_BALANCER = "microsoft.network/loadbalancers"
FIREWALL = "microsoft.network/azurefirewalls"
FIREWALL_POLICY = "microsoft.network/firewallpolicies"
RULE_COLLECTION_GROUP = "microsoft.network/firewallpolicies/rulecollectiongroups"
IP_GROUP = "microsoft.network/ipgroups"


def key(resource_id: str) -> str:
    """ARM ids compare case-insensitively; a trailing slash is not part of one."""
    return resource_id.strip().rstrip("/").lower()


def last_segment(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1]


def ref_id(value: Any) -> str | None:
    """The id of a `{"id": ...}` sub-resource reference, or None."""
    if isinstance(value, Mapping) and isinstance(value.get("id"), str) and value["id"].strip():
        return str(value["id"])
    return None


def props(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    value = resource.get("properties")
    return value if isinstance(value, Mapping) else {}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


@dataclass
class Topology:
    """Resources indexed by lower-case id; admin rules by lower-case VNet id (None when none were given)."""

    source: str
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)  # lower id -> lower type
    admin_rules: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    nsgs: dict[str, Nsg] = field(
        default_factory=dict
    )  # parsed once, shared by every NIC and subnet using one

    def get(self, resource_id: str | None, kind: str | None = None) -> dict[str, Any] | None:
        if not resource_id:
            return None
        found = self.resources.get(key(resource_id))
        if found is None or (kind is not None and self.types.get(key(resource_id)) != kind):
            return None
        return found

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        """Every resource of one type, in id order (stable output)."""
        return [self.resources[k] for k in sorted(self.resources) if self.types[k] == kind]

    def count(self, kind: str) -> int:
        return sum(1 for t in self.types.values() if t == kind)


def unwrap(document: Any, source: str) -> list[Any]:
    """The list of resources in a parsed input: a list, `{"data": [...]}` (az graph query) or `{"value": [...]}`."""
    if isinstance(document, list):
        items = document
    elif isinstance(document, Mapping):
        data = document.get("data", document.get("value"))
        if isinstance(data, Mapping) and "rows" in data:
            raise DataError(
                f"{source}: a Resource Graph answer in table format; export it as an object array "
                "(`az graph query ... -o json`, or resultFormat objectArray)."
            )
        if not isinstance(data, list):
            raise DataError(
                f'{source}: expected a JSON array of ARM resources (or az graph query\'s {{"data": [...]}}), '
                f"got an object without a 'data' list."
            )
        items = data
    else:
        raise DataError(f"{source}: expected a JSON array of ARM resources, got {_kind(document)}.")
    if len(items) > MAX_RESOURCES:
        raise DataError(
            f"{source}: {len(items)} resources, over the {MAX_RESOURCES} egress path reads at once."
        )
    return items


def build(document: Any, source: str = "resources") -> Topology:
    """Index the resources of an input; DataError naming the element for anything not shaped like a resource."""
    return build_all([(document, source)])


def build_all(inputs: Sequence[tuple[Any, str]]) -> Topology:
    """One topology from several inputs (e.g. the topology export and the rule collection groups' export)."""
    topo = Topology(", ".join(source for _, source in inputs))
    total = 0
    for document, source in inputs:
        total += _index(topo, document, source)
        if total > MAX_RESOURCES:
            raise DataError(
                f"{topo.source}: over {MAX_RESOURCES} resources in all; egress path reads at most that."
            )
    return topo


def _index(topo: Topology, document: Any, source: str) -> int:
    items = unwrap(document, source)
    for index, item in enumerate(items):
        where = f"{source}: element {index}"
        if not isinstance(item, Mapping):
            raise DataError(f"{where}: expected an ARM resource object, got {_kind(item)}.")
        kind = item.get("type")
        if not isinstance(kind, str) or not kind.strip():
            raise DataError(f"{where}: has no 'type' (ARM resources carry one, e.g. Microsoft.Network/...).")
        kind = kind.strip().lower()
        if kind == ADMIN_RULES_TYPE:
            _add_admin_rules(topo, item, where)
            continue
        rid = item.get("id")
        if not isinstance(rid, str) or not rid.strip().startswith("/"):
            raise DataError(f"{where}: has no ARM 'id' (a string starting with /subscriptions/...).")
        if "properties" in item and not isinstance(item["properties"], Mapping):
            raise DataError(
                f"{where} ({rid}): 'properties' must be an object, got {_kind(item['properties'])}."
            )
        _add(topo, dict(item), kind)
        if kind == VNET:
            _add_embedded_subnets(topo, item, where)
    return len(items)


def _add(topo: Topology, resource: dict[str, Any], kind: str) -> None:
    k = key(resource["id"])
    existing = topo.resources.get(k)
    # A subnet listed on its own replaces the copy inside its VNet (it is the more specific answer).
    if existing is not None and existing.get("_embedded") is not True:
        raise DataError(f"{topo.source}: {resource['id']} appears twice; give each resource once.")
    topo.resources[k] = resource
    topo.types[k] = kind


def _add_embedded_subnets(topo: Topology, vnet: Mapping[str, Any], where: str) -> None:
    subnets = props(vnet).get("subnets")
    if subnets is None:
        return
    if not isinstance(subnets, list):
        raise DataError(f"{where}: properties.subnets must be a list, got {_kind(subnets)}.")
    for position, subnet in enumerate(subnets):
        if not isinstance(subnet, Mapping) or not isinstance(subnet.get("id"), str):
            raise DataError(f"{where}: properties.subnets[{position}] has no id.")
        k = key(subnet["id"])
        if k in topo.resources:  # listed on its own already
            continue
        copy = dict(subnet)
        copy["_embedded"] = True
        topo.resources[k] = copy
        topo.types[k] = SUBNET


def _add_admin_rules(topo: Topology, record: Mapping[str, Any], where: str) -> None:
    item = record.get("properties") if isinstance(record.get("properties"), Mapping) else record
    assert isinstance(item, Mapping)
    vnet_id = item.get("virtualNetworkId")
    if not isinstance(vnet_id, str) or not vnet_id.strip():
        raise DataError(
            f"{where}: effective admin rules need 'virtualNetworkId' (the VNet they were listed for)."
        )
    value = item.get("value")
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise DataError(f"{where}: effective admin rules need 'value': the list the API returned.")
    topo.admin_rules.setdefault(key(vnet_id), []).extend(dict(v) for v in value)


# --- one VM's surroundings -------------------------------------------------------------------------------------


@dataclass
class Endpoint:
    """Where one NIC sits: its address, subnet, VNet, and the resources that act on its traffic.

    `missing` lists references the input could not resolve; an endpoint with any is not evaluated.
    """

    name: str  # the VM's name (or the NIC's, for a NIC without a VM)
    id: str
    region: str
    nic_id: str = ""
    nic: dict[str, Any] = field(default_factory=dict)
    ipconfig: dict[str, Any] = field(default_factory=dict)
    ip: str = ""
    subnet_id: str = ""
    subnet: dict[str, Any] = field(default_factory=dict)
    vnet_id: str = ""
    vnet: dict[str, Any] = field(default_factory=dict)
    vnet_prefixes: tuple[str, ...] = ()
    routed_prefixes: tuple[str, ...] = ()  # the subnet's user routes' prefixes: part of `VirtualNetwork` too
    nic_nsg: Nsg | None = None
    subnet_nsg: Nsg | None = None
    route_table: dict[str, Any] | None = None
    admin_rules: list[dict[str, Any]] | None = None  # None: the input holds none for this VNet
    missing: list[str] = field(default_factory=list)

    @property
    def known(self) -> bool:
        return not self.missing


def vms(topo: Topology, wanted: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The VMs (or NICs) to check: those named (VM name or id, or a NIC's id; case-insensitively), or every VM of
    the input — every NIC when the input holds NICs but no VM (scale-set instances, a NIC exported alone)."""
    machines = topo.of_type(VM)
    if not wanted:
        if machines:
            return machines
        nics = topo.of_type(NIC)
        if nics:
            return nics
        raise DataError(
            f"{topo.source}: holds no virtual machine (type Microsoft.Compute/virtualMachines) and no network "
            "interface; export the VMs with their network resources."
        )
    chosen: list[dict[str, Any]] = []
    for name in wanted:
        if name.startswith("/"):
            hit = [vm for vm in machines if key(vm["id"]) == key(name)]
            hit = hit or [nic for nic in topo.of_type(NIC) if key(nic["id"]) == key(name)]
        else:
            hit = [
                vm for vm in machines if str(vm.get("name", last_segment(vm["id"]))).lower() == name.lower()
            ]
        if not hit:
            raise UsageError(
                f"--vm {name!r}: no such virtual machine (or network interface id) in {topo.source}."
            )
        if len(hit) > 1:
            ids = ", ".join(vm["id"] for vm in hit)
            raise UsageError(f"--vm {name!r} names {len(hit)} VMs ({ids}); give the id.")
        if hit[0] not in chosen:
            chosen.append(hit[0])
    return chosen


def endpoint(topo: Topology, resource: Mapping[str, Any], region: str | None = None) -> Endpoint:
    """The endpoint of a VM (its primary NIC) or of a NIC given on its own."""
    if topo.types.get(key(resource["id"])) == NIC:
        end = nic_endpoint(topo, resource)
        vm = vm_of_nic(topo, resource)
        if vm is not None:
            end.name, end.id = str(vm.get("name") or end.name), str(vm["id"])
            end.region = str(vm.get("location") or end.region)
        if region:
            end.region = region
        return end
    return vm_endpoint(topo, resource, region)


def _primary(items: list[Any]) -> Mapping[str, Any] | None:
    usable = [i for i in items if isinstance(i, Mapping)]
    for item in usable:
        if props(item).get("primary") is True or item.get("primary") is True:
            return item
    return usable[0] if usable else None


def vm_endpoint(topo: Topology, vm: Mapping[str, Any], region: str | None = None) -> Endpoint:
    """The endpoint of a VM's primary NIC (Backup's traffic leaves through it)."""
    name = str(vm.get("name") or last_segment(vm["id"]))
    where = region or str(vm.get("location") or "")
    end = Endpoint(name=name, id=str(vm["id"]), region=where)
    profile = props(vm).get("networkProfile")
    nics = profile.get("networkInterfaces") if isinstance(profile, Mapping) else None
    chosen = _primary(nics) if isinstance(nics, list) else None
    nic_id = ref_id(chosen)
    if nic_id is None:
        end.missing.append("the VM names no network interface (properties.networkProfile.networkInterfaces)")
        return end
    nic = topo.get(nic_id, NIC)
    if nic is None:
        end.missing.append(f"network interface {nic_id}")
        return end
    return nic_endpoint(topo, nic, end)


def nic_endpoint(topo: Topology, nic: Mapping[str, Any], end: Endpoint | None = None) -> Endpoint:
    """Fill an endpoint from a NIC: its primary IP configuration, subnet, VNet, NSGs, route table, admin rules."""
    if end is None:
        name = str(nic.get("name") or last_segment(nic["id"]))
        end = Endpoint(name=name, id=str(nic["id"]), region=str(nic.get("location") or ""))
    end.nic_id, end.nic = str(nic["id"]), dict(nic)
    configs = props(nic).get("ipConfigurations")
    config = _primary(configs) if isinstance(configs, list) else None
    if config is None:
        end.missing.append(f"an IP configuration on network interface {nic['id']}")
        return end
    end.ipconfig = dict(config)
    ip = props(config).get("privateIPAddress")
    if not isinstance(ip, str) or not ip.strip():
        end.missing.append(f"the private IP address of {nic['id']} (privateIPAddress)")
    else:
        end.ip = ip.strip().split("/", 1)[0]
    subnet_id = ref_id(props(config).get("subnet"))
    if subnet_id is None:
        end.missing.append(f"the subnet of {nic['id']}")
        return end
    end.subnet_id = subnet_id
    subnet = topo.get(subnet_id, SUBNET)
    cut = subnet_id.lower().rfind("/subnets/")
    vnet_id = subnet_id[:cut] if cut > 0 else ""
    end.vnet_id = vnet_id
    vnet = topo.get(vnet_id, VNET)
    if subnet is None:
        end.missing.append(f"subnet {subnet_id}")
    else:
        end.subnet = subnet
    if vnet is None:
        end.missing.append(f"virtual network {vnet_id or '(unnamed)'} (its address space)")
    else:
        end.vnet = vnet
        end.vnet_prefixes = vnet_prefixes(vnet)
        if not end.vnet_prefixes:
            end.missing.append(f"the address space of virtual network {vnet_id}")
    nic_nsg_id = ref_id(props(nic).get("networkSecurityGroup"))
    if nic_nsg_id:
        end.nic_nsg = _nsg(topo, nic_nsg_id, end)
    if subnet is not None:
        subnet_nsg_id = ref_id(props(subnet).get("networkSecurityGroup"))
        if subnet_nsg_id:
            end.subnet_nsg = _nsg(topo, subnet_nsg_id, end)
        rt_id = ref_id(props(subnet).get("routeTable"))
        if rt_id:
            end.route_table = topo.get(rt_id, ROUTE_TABLE)
            if end.route_table is None:
                end.missing.append(f"route table {rt_id}")
            else:
                end.routed_prefixes = user_route_prefixes(end.route_table)
    if vnet_id and key(vnet_id) in topo.admin_rules:
        end.admin_rules = topo.admin_rules[key(vnet_id)]
    return end


def _nsg(topo: Topology, nsg_id: str, end: Endpoint) -> Nsg | None:
    doc = topo.get(nsg_id, NSG)
    if doc is None:
        end.missing.append(f"network security group {nsg_id}")
        return None
    parsed = topo.nsgs.get(key(nsg_id))
    if parsed is None:
        try:
            parsed = topo.nsgs[key(nsg_id)] = parse_nsg_document(doc, source=f"{topo.source}: {nsg_id}")
        except EgressError as exc:
            raise DataError(str(exc)) from None
    return parsed


def vnet_prefixes(vnet: Mapping[str, Any]) -> tuple[str, ...]:
    """What `VirtualNetwork` means for this VNet: its address space plus every peered VNet's."""
    out: list[str] = []
    space = props(vnet).get("addressSpace")
    out += _prefix_list(space)
    peerings = props(vnet).get("virtualNetworkPeerings")
    for peering in peerings if isinstance(peerings, list) else []:
        if not isinstance(peering, Mapping):
            continue
        p = props(peering)
        if str(p.get("peeringState", "Connected")).lower() != "connected":
            continue
        out += _prefix_list(p.get("remoteVirtualNetworkAddressSpace") or p.get("remoteAddressSpace"))
    return tuple(dict.fromkeys(out))


def user_route_prefixes(table: Mapping[str, Any]) -> tuple[str, ...]:
    """The address prefixes of a route table's routes, as Azure adds them to `VirtualNetwork` ("address prefixes
    used on user-defined routes", service tags overview). Routes naming a service tag are left out: Microsoft
    does not say whether a tag's prefixes join the tag."""
    out: list[str] = []
    routes = props(table).get("routes")
    for route in routes if isinstance(routes, list) else []:
        prefix = props(route).get("addressPrefix") if isinstance(route, Mapping) else None
        if isinstance(prefix, str) and looks_like_address(prefix.strip()):
            out.append(prefix.strip())
    return tuple(sorted(dict.fromkeys(out)))


def own_prefixes(vnet: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(_prefix_list(props(vnet).get("addressSpace")))


def peered_prefixes(vnet: Mapping[str, Any]) -> tuple[str, ...]:
    own = set(own_prefixes(vnet))
    return tuple(p for p in vnet_prefixes(vnet) if p not in own)


def _prefix_list(space: Any) -> list[str]:
    if not isinstance(space, Mapping):
        return []
    values = space.get("addressPrefixes")
    return [v.strip() for v in values if isinstance(v, str) and v.strip()] if isinstance(values, list) else []


def find_nic_by_ip(topo: Topology, ip: str) -> dict[str, Any] | None:
    """The NIC one of whose IP configurations holds `ip` (the proxy VM, an appliance)."""
    for nic in topo.of_type(NIC):
        configs = props(nic).get("ipConfigurations")
        for config in configs if isinstance(configs, list) else []:
            if (
                isinstance(config, Mapping)
                and str(props(config).get("privateIPAddress", "")).split("/")[0] == ip
            ):
                return nic
    return None


def vm_of_nic(topo: Topology, nic: Mapping[str, Any]) -> dict[str, Any] | None:
    return topo.get(ref_id(props(nic).get("virtualMachine")), VM)
