"""Scheduler side: what a request asks for and what Placement knows."""
