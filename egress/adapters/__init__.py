"""Adapters: everything that touches files, the network or Azure."""
