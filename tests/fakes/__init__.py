"""Local stand-ins for external services, served over real HTTP on loopback for tests."""
