"""Put on a generated project's PYTHONPATH by benchmarks/outbox_latency.py: the project's
production settings plus three order endpoints that differ only in how they send the
confirmation task. Nothing in the generated project is edited."""
