"""The network security group: the model of an NSG and its rules (model, rules, limits), the planner and its
checks (planner, validate), apply's reconcile and its text (reconcile, apply_output), lint and verify's analysis
(lint, evaluate, space), the renderers (render_*, formats, readback of an earlier rendering) and the target
(target: a JSON file or a live NSG through egress.adapters.azure's NsgClient)."""
