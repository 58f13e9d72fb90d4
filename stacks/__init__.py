"""One module per kind of stack: each reads and validates configuration, then composes components."""
