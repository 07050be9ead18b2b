"""The one exception type for mistakes the user can fix (bad input, bad config).

The CLI turns a `UsageError` into one line on stderr and exit code 2; anything else is a bug
(exit code 1). Messages name the problem *and* the fix.
"""


class UsageError(Exception):
    """Bad usage or bad input: the message says what is wrong and what to do about it."""
