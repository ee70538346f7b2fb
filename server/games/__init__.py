"""Games that run on the server: the API a game implements (``api``), how a mode names
one (``loader``), what drives their ticks (``scheduler``), and the games Arena ships
(``tictactoe``).

Pure code: no Redis, no sockets, no wall clock. A game emits outputs into its
``GameContext``; the match runner above (services) commits them to Redis and fans
them out. Kept below storage in tests/import_graph.py so it stays that way.
"""
