"""Everything that talks to Azure. The Azure SDK is imported only in this package, and only lazily."""
