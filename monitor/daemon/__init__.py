"""The daemon: APScheduler rounds (``scheduler``), the feed server, and the status read-out."""
