"""Memory mechanisms: one file each (math as pure functions, thin modules)."""
