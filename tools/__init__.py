"""Developer tools: reading the guardrail catalog and tracing it to what enforces it."""
