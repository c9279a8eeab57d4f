"""The network security group. Its modules still live by layer (egress/core/nsg.py, planner.py, limits.py,
reconcile.py, egress/render/nsg_*.py, egress/adapters/nsg_target.py, egress/adapters/azure/nsg_client.py);
`place.py` is the registry entry that delegates to them until they move here."""
