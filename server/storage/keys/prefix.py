"""What begins every key and channel name Arena uses."""

PREFIX = "arena"
