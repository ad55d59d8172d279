"""Developer tools: the demo Wyoming satellite and helpers used by ``scripts/develop``."""
