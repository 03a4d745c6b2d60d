"""The HTTP order intake, ``POST /orders``: ``http`` is the WSGI app (signature, answers,
status codes), ``body`` reads and validates a request's orders, ``batch`` stores the requests
that arrive together in one transaction."""
