"""The Azure Firewall policy: one rule collection group holding an application rule collection (FQDN tag
AzureBackup) and a network rule collection (service tags with `FW`, else CIDRs), plus the route table artifact
sending the subnets' 0.0.0.0/0 to the firewall. model, limits, planner, render_*, target; place.py is the entry."""
