"""Region names of the retired "Azure Datacenter IP Ranges" XML (PublicIPs_*.xml), keyed by today's names.

The XML spelled regions its own way (`useast`, `europewest`); people type today's (`eastus`, `westeurope`).
The last XML (2020) lists these regions; `uknorth` and `uksouth2` have no public successor name.
"""

from __future__ import annotations

TODAY_TO_XML: dict[str, str] = {
    "australiacentral": "australiac",
    "australiacentral2": "australiac2",
    "brazilsoutheast": "brazilse",
    "centralindia": "indiacentral",
    "centralus": "uscentral",
    "centraluseuap": "uscentraleuap",
    "eastasia": "asiaeast",
    "eastus": "useast",
    "eastus2": "useast2",
    "eastus2euap": "useast2euap",
    "francecentral": "francec",
    "francesouth": "frances",
    "germanynorth": "germanyn",
    "germanywestcentral": "germanywc",
    "northcentralus": "usnorth",
    "northeurope": "europenorth",
    "norwayeast": "norwaye",
    "norwaywest": "norwayw",
    "southafricanorth": "southafrican",
    "southafricawest": "southafricaw",
    "southcentralus": "ussouth",
    "southeastasia": "asiasoutheast",
    "southindia": "indiasouth",
    "switzerlandnorth": "switzerlandn",
    "switzerlandwest": "switzerlandw",
    "uaecentral": "uaec",
    "uaenorth": "uaen",
    "westcentralus": "uswestcentral",
    "westeurope": "europewest",
    "westindia": "indiawest",
    "westus": "uswest",
    "westus2": "uswest2",
}
