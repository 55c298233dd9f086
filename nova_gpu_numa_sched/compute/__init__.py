"""Code that runs inside nova-compute: discovery, reporting, claims, XML."""
