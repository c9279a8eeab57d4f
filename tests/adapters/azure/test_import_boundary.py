"""Importing the adapter must not load the Azure SDK (it costs about half a second)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_importing_the_adapter_loads_no_azure_module() -> None:
    code = (
        "import json, sys; import egress.adapters.azure as a; "
        "a.parse_nsg_id('/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg/providers/"
        "Microsoft.Network/networkSecurityGroups/n'); a.resolve_endpoint('public', None); "
        "print(json.dumps(sorted(m for m in sys.modules if m == 'azure' or m.startswith('azure.'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == []


def test_the_graph_adapter_and_queries_load_no_azure_module() -> None:
    code = (
        "import json, sys; import egress.adapters.azure.resource_graph as g; import egress.core.graph_queries as q; "
        "q.path_topology_query([q.parse_scope('/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590')]); "
        "print(json.dumps(sorted(m for m in sys.modules if m == 'azure' or m.startswith('azure.'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == []
