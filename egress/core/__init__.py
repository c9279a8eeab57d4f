"""The pure core: data model, rule computation, validation and plans. No I/O lives here."""
