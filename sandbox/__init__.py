"""Isolated execution of candidate solutions and their trusted scoring."""
