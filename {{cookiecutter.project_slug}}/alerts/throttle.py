"""One alert per kind of failure per window, counted across every worker.

The first alert of a kind (say: one task raising ConnectionError) in a window goes out;
the others are only counted, and the next alert of that kind after the window says how
many were held back. The counts live in Django's cache (Redis), so every worker process
on every machine shares them.
"""

from django.core.cache import cache


def admit(kind, window_seconds):
    """Return (send, suppressed): whether to send now, and how many were held back.

    cache.add is atomic in Redis (SET NX): exactly one caller opens a window.
    """
    window_key = f"alerts:window:{kind}"
    count_key = f"alerts:suppressed:{kind}"
    if cache.add(window_key, True, timeout=window_seconds):
        suppressed = cache.get(count_key, 0)
        if suppressed:
            cache.decr(count_key, suppressed)
        return True, suppressed
    try:
        cache.incr(count_key)
    except ValueError:  # the first one held back: the counter does not exist yet
        cache.add(count_key, 0, timeout=None)
        cache.incr(count_key)
    return False, 0
