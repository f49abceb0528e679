from celery import shared_task


@shared_task
def round_trip(number, text):
    """A trivial task: no database, no I/O, a small result (stored if the settings say so)."""
    return {"number": number, "length": len(text)}
