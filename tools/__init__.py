"""Development tools that do not ship in the wheel (the sync generator)."""
