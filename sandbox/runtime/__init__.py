"""Code that runs inside the sandbox next to the candidate.

The jail mounts this folder as a top-level package of its own, so every import in here is relative and
only reaches the standard library, numpy and torch. Nothing here may import the rest of the project.
"""
