"""ComponentResources of the platform. They take typed arguments and never read Pulumi config."""
