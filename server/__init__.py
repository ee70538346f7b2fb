"""Arena: a real-time multiplayer game backend on aiohttp and Redis."""
