"""Arena client and bots."""
