this is { not HCL at all, and must not be parsed
