"""Code the benchmark runs inside a generated project's processes; never part of the project.

benchmarks/run.py puts the benchmarks directory on PYTHONPATH and points
DJANGO_SETTINGS_MODULE at `benchprobe.settings`, which imports the project's own
production settings, applies one named variant (`BENCH_VARIANT`) and adds this Django
app. The app's only job is `probe.py`: each worker process records when every task
started and finished, so that the benchmark can count completions and time them.
`driver.py` is the publisher: it sends the tasks and reads the probe's records.
"""
