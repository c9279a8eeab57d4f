"""Limits of the firewalls egress exports to, as named constants beside the code that enforces them."""

from __future__ import annotations

import re

# One name serves as nft set name, ipset set name, squid ACL name and (upper-cased) aerleon network token:
# the intersection of what each accepts. ipset's IPSET_MAXNAMELEN is 32 bytes with the NUL (31 characters), and
# egress appends `_v4_new` (7) for the set it swaps in; nftables took 32 before Linux 4.16, 256 since.
IPSET_MAX_NAME = 31
NAME_SUFFIX = "_v4_new"
MAX_NAME_LENGTH = IPSET_MAX_NAME - len(NAME_SUFFIX)  # 24
NAME = re.compile(r"^[a-z][a-z0-9_]*$", re.ASCII)
# nft table names: egress writes them unquoted, so only identifier characters.
NFT_TABLE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$", re.ASCII)

# ipset hash:net: the kernel's defaults; maxelem grows in powers of two only when a set needs more, so the
# `create ... -exist` line stays identical week to week (ipset refuses -exist when parameters differ).
IPSET_DEFAULT_HASHSIZE = 1024
IPSET_DEFAULT_MAXELEM = 65536

# PAN-OS: a list's entries count against the model's total of EDL IP entries; the smallest published total is
# 50,000 (PAN-OS web interface help, Objects > External Dynamic Lists). Beyond it the firewall skips entries.
EDL_MAX_IP_ENTRIES_SMALLEST_MODEL = 50_000

# The `after` hook: how long a firewall reload may take before egress kills it.
DEFAULT_HOOK_TIMEOUT = 60.0
MAX_HOOK_TIMEOUT = 3600.0
HOOK_OUTPUT_SHOWN = 200  # characters of a failing hook's stderr in the one-line report
