"""Helpers for tests that run tasks in a real worker."""

import time


def wait_until(condition, timeout=30, interval=0.1):
    """Poll `condition` until it returns something true, and return that.

    A test that sends a task cannot know when the worker will have run it, so it waits
    for the task's effect instead, with a deadline so a broken task fails the test.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s waiting for {condition}")
        time.sleep(interval)
