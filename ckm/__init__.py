"""ckm: shared ground for every package — settings, the CLI, the in-process event bus."""
