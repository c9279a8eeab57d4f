"""`egress path`: will Azure Backup's traffic get out of this VM, across every layer Azure applies?

The model (`topology`) is built from ARM resources in their REST GET shape; each layer is a module of its own
(`admin_rules`, `nsgs`, `routes`, `firewall`, `outbound`), and `verdict` chains them in Azure's order for one VM and
one destination, splitting the destination's addresses exactly as each layer decides them. Pure: no I/O.
"""
