pytest_plugins = ["tests.armdouble.plugin"]
