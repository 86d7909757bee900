"""Discovery campaigns: the evolutionary solution tree and the loop that grows it."""
