"""Workflows: the steps of a command that combine the pure core with adapters (read, plan, confirm, write)."""
