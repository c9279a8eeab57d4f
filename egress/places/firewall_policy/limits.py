"""Azure Firewall policy limits and shapes as named constants, next to the code that checks them.

Checked by egress (firewall-limits include of Microsoft's docs, firewallPolicy.json):
- the size of one rule collection group: 1 MB for policies created before July 2022, 2 MB after; egress keeps its
  group under the smaller figure, which holds for every policy;
- 20,000 unique source-destination combinations in network rules, counted as Microsoft defines them;
- priorities 100-65,000 for groups and collections, unique among a group's collections;
- application rule ports 0-64,000.
Not checked (egress writes none of them): IP Groups, DNAT rules, the 50 / 90 groups per policy.
"""

from __future__ import annotations

MAX_RCG_BYTES = 1024 * 1024  # 1 MB: older policies' limit (2 MB since July 2022); egress stays under both
MAX_RCG_BYTES_NEW_POLICIES = 2 * 1024 * 1024
MAX_UNIQUE_SOURCE_DESTINATIONS = 20_000
PORTS_PER_COMBINATION = 14  # Microsoft's formula divides the destination ports by 14, rounded up
MIN_PRIORITY = 100
MAX_PRIORITY = 65_000
MAX_APPLICATION_PORT = 64_000
FW_FEATURE = "FW"  # a tag's networkFeatures lists it when a firewall network rule may name the tag
BACKUP_FQDN_TAG = "AzureBackup"  # Azure Firewall's FQDN tag for Azure Backup (azureFirewallFqdnTag.json)
FILTER_COLLECTION = "FirewallPolicyFilterRuleCollection"
NETWORK_PROTOCOLS = ("TCP", "UDP", "Any", "ICMP")
APPLICATION_PROTOCOLS = ("Http", "Https")
HTTPS_PORT = 443
DEFAULT_RCG_NAME = "egress-backup"
