"""The receiver's web pages (the dashboard): ``pages.py``, its ``templates/`` and ``static/``."""
