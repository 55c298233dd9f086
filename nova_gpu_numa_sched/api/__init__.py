"""API side: extra spec validation for nova-api."""
