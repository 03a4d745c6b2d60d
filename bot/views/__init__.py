"""Block Kit builders: pure functions from engine results to slack_sdk views and blocks.

One module per use (po, review, allocate, remove, sync_date, summary, unallocated, home, help,
digest); ``blocks`` holds Slack's limits and the shared pieces, ``state`` what a view carries
back to its handler. Nothing here talks to Slack or to the database, so each builder is tested
on its own.
"""
