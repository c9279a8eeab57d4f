"""A local HTTPS test double of the Azure Resource Manager Network API, and its pytest fixtures."""

from tests.armdouble.server import ArmDouble, Fault, RecordedRequest, nsg_id

__all__ = ["ArmDouble", "Fault", "RecordedRequest", "nsg_id"]
