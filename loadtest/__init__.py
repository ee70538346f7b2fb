"""Locust users for Arena."""
