"""Allow-lists for firewalls that are not Azure's: the tags' prefixes exported as EDL, nftables, ipset, aerleon,
squid, CSV or JSON, written atomically and only when they change, refreshed by `egress refresh`."""
