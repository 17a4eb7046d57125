"""WSGI entry point for any production server: ``gunicorn wsgi:app``.

`kb serve` is the simpler way: it also runs the background worker.
"""

from kb import create_app

app = create_app()
