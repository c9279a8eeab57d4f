"""Azure's route table limits and shape rules as named constants, next to the code that checks them.

MAX_ROUTES_PER_TABLE is 400, not the 1,000 the issue quoted: Microsoft's networking limits give 400
user-defined routes per route table; 1,000 is the figure for route tables managed by Azure Virtual Network
Manager's UDR management, which egress does not write through (egress-path.md section 3, [LIM]).
"""

from __future__ import annotations

MAX_ROUTES_PER_TABLE = 400
MAX_SERVICE_TAG_ROUTES_PER_TABLE = 25  # routes whose addressPrefix is a service tag [UDR]
NEXT_HOP_TYPES = ("VirtualNetworkGateway", "VnetLocal", "Internet", "VirtualAppliance", "None")  # SPEC-RT
EGRESS_NEXT_HOPS = ("Internet", "VirtualAppliance")  # the two directions egress writes
DEFAULT_NEXT_HOP = "Internet"
UDR_FEATURE = "UDR"  # a tag's networkFeatures lists it when a route may name the tag
