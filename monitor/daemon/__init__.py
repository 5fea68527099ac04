"""The daemon: APScheduler rounds (``scheduler``), their triggers (``triggers``), what a
signal does (``signals``), the feed server, and the status read-out (``status``)."""
