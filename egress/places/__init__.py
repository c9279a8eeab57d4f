"""The places egress writes to: NSGs, route tables, firewall policies and exported allow-lists."""
