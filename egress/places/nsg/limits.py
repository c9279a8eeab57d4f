"""Azure's NSG limits and shape rules as named constants (azure-nsg.md), next to nothing else."""

from __future__ import annotations

from egress.core import naming

MAX_RULES_PER_NSG = 1000
MAX_SOURCE_PREFIXES_PER_NSG = 4000  # summed over all rules, source side
MAX_DESTINATION_PREFIXES_PER_NSG = 4000  # and, separately, destination side
MIN_PRIORITY = 100
MAX_PRIORITY = 4096
MAX_NAME_LENGTH = 80
MAX_DESCRIPTION_LENGTH = 140
MAX_ASGS_PER_RULE_FIELD = 10

RULE_NAME = naming.RULE_NAME  # Azure's one name rule (egress.core.naming): --rule-prefix is checked by it too

PROTOCOLS = ("Tcp", "Udp", "Icmp", "Esp", "Ah", "*")
ACCESSES = ("Allow", "Deny")
DIRECTIONS = ("Inbound", "Outbound")

# How egress cuts long prefix lists: one rule per aligned block (a /8 of IPv4, a /16 of IPv6), so a weekly change
# touches only the rules whose block changed; blocks larger than this are split further.
MAX_PREFIXES_PER_RULE = 400
IPV4_BLOCK_BITS = 8
IPV6_BLOCK_BITS = 16
