"""Adapters: everything that does I/O (files, network, Azure) on behalf of the pure core."""
