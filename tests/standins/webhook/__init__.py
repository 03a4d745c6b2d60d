"""A store's webhook receiver on 127.0.0.1: checks every request's signature, as a real one
must, and answers as a test scripts it."""
