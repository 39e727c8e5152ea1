"""Development and test helpers; never imported by the service at runtime."""
