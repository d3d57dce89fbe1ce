"""Sources produce Chunks (bytes plus where they came from) and know nothing of AWS."""
