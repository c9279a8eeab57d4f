"""The route table: user-defined routes that send Azure Backup's service tags straight to the Internet (or to an
appliance) from a force-tunnelled subnet. model, limits, planner, render_*, target; place.py is the entry."""
