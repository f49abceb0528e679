"""Write docs/benchmarks.md and docs/images/benchmarks.png from run.py's figures.

`write(runs)` takes the results of one or more runs (run.py's results.json); the first
is the main run, whose figures fill the page; the others add columns, so two runs can
be compared on one page (`run.py --page-from A/results.json B/results.json`).
"""

import statistics
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PAGE = REPO / "docs" / "benchmarks.md"
PLOT = REPO / "docs" / "images" / "benchmarks.png"

COMBOS = ["rabbitmq + django-db", "rabbitmq + redis", "redis + django-db", "redis + redis"]
BASELINE_COMBO = "redis + redis"

CHANGES = {
    "prefetch-4": "prefetch multiplier 4 instead of 1",
    "no-track-started": "no `STARTED` state (`task_track_started` off)",
    "acks-late": "late acknowledgement (`acks_late`) for every task",
    "no-events": "no task events (worker events and task-sent events off)",
    "no-confirms": "no publisher confirms",
    "classic-queues": "classic durable queues instead of quorum queues",
    "no-sent-event": "no `task-sent` event (`task_send_sent_event` off)",
    "no-confirms,no-sent-event": "neither publisher confirms nor `task-sent` events",
    "db-close": "a new database connection for every task (Celery's default)",
    "direct-exchanges": "direct exchanges instead of topic exchanges",
}


def mean(values):
    return statistics.fmean(values)


def find(run, combo, variant, mode):
    for record in run["workers"]:
        if (record["combo"], record["variant"], record["mode"]) == (combo, variant, mode):
            return record
    return None


def tps(record):
    """Tasks per second: the median of the rounds."""
    return statistics.median(record["tasks_per_second"])


def tps_cell(record):
    rounds = ", ".join(f"{value:.0f}" for value in record["tasks_per_second"])
    return f"**{tps(record):.0f}** ({rounds})"


def cpu(record):
    """CPU milliseconds per task, all processes: the median of the rounds."""
    return statistics.median(record["cpu_ms_per_task_rounds"])


def cpu_cell(record):
    rounds = ", ".join(f"{value:.2f}" for value in record["cpu_ms_per_task_rounds"])
    return f"**{cpu(record):.2f}** ({rounds})"


def ms(summary):
    return f"{summary['p50']:.1f} / {summary['p99']:.1f}"


def ratio(value, reference):
    return f"{value / reference:.2f}×"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------


def machine_section(runs):
    main = runs[0]
    machine = main["machine"]
    packages = ", ".join(f"{name} {version}" for name, version in machine["packages"].items())
    servers = machine["servers"]
    rows = [
        ("Date", " and ".join(run["date"] for run in runs)),
        ("CPU", f"{machine['cpu']}, {machine['cores']} cores"),
        ("Memory", f"{machine['memory_gib']} GiB"),
        ("Kernel", machine["kernel"]),
        ("Python", machine["python"]),
        ("Packages", packages),
        ("RabbitMQ", f"{servers['RabbitMQ']}, one node"),
        ("Redis", f"{servers['Redis']}, append-only file, fsync every second"),
        ("PostgreSQL", f"{servers['PostgreSQL']}, `fsync = off`"),
        (
            "Load average (1 min) at start and end",
            "; ".join(f"{run['load_before'][0]} → {run['load_after'][0]}" for run in runs),
        ),
        ("Duration", "; ".join(f"{run['seconds'] / 60:.1f} minutes" for run in runs)),
    ]
    text = table(["", ""], rows)
    busiest = max(float(run["load_before"][0]) for run in runs)
    if busiest > 0.5:
        text += (
            f"\n\nThe machine was shared: before the benchmark started anything, its 1-minute "
            f"load average was already up to {busiest:.1f} on {machine['cores']} cores, from "
            "other work (other test suites) that went on during the run. Every process here "
            "competed with that work for the CPU, which makes single figures noisy: compare "
            "configurations measured in the same run and the same table, by their CPU cost "
            "first; the findings below say which differences stay within the noise."
        )
    return text


def web_section(runs):
    main = runs[0]

    def enqueue_cost(record):
        kinds = record["kinds"]
        return kinds["POST / enqueues"]["p50"] - kinds["POST / rejected"]["p50"]

    rows = []
    for record in main["web"]:
        kinds = record["kinds"]
        others = []
        for run in runs[1:]:
            other = next((r for r in run["web"] if r["combo"] == record["combo"]), None)
            others.append(f"{enqueue_cost(other):+.1f}" if other else "–")
        rows.append(
            (
                record["combo"],
                ms(kinds["GET /"]),
                ms(kinds["POST / rejected"]),
                ms(kinds["POST / enqueues"]),
                f"{enqueue_cost(record):+.1f}",
                *others,
            )
        )
    header = [
        "Broker + results",
        "`GET /` p50 / p99 ms",
        "`POST /` rejected p50 / p99 ms",
        "`POST /` enqueues p50 / p99 ms",
        "Enqueue + session, p50 ms",
        *(f"Run {number}: enqueue + session" for number in range(2, len(runs) + 1)),
    ]
    requests = main["counts"]["requests"]
    text = (
        f"{requests} requests of each kind per project, one at a time, over loopback "
        "(after a warm-up). `GET /` renders the report form. `POST /` with `days=0` is "
        "rejected by the form and renders it again: the same request, CSRF check and form "
        "handling, without the task. `POST /` with `days=7` calls `summarise_signups.delay()`, "
        "saves the task id in the session and answers 302. The last column is the "
        "difference of the medians of the two POSTs: one publish plus one session write.\n\n"
    )
    text += table(header, rows)
    publish_rows = []
    for combo in COMBOS:
        stored = find(main, combo, "generated", "stored")
        ignored = find(main, combo, "generated", "ignored")
        if stored and ignored:
            publish_rows.append((combo, ms(stored["publish_ms"]), ms(ignored["publish_ms"])))
    text += (
        "\n\nThe publish alone, timed around `apply_async()` in a long-lived process (the "
        "benchmark's publisher, sending `round_trip` one task at a time):\n\n"
    )
    text += table(
        ["Broker + results", "result stored: p50 / p99 ms", "result ignored: p50 / p99 ms"],
        publish_rows,
    )
    return text


def throughput_section(runs):
    main = runs[0]
    baseline = find(main, BASELINE_COMBO, "baseline", "stored")
    extra = [f"Run {number}: CPU ms, tasks/s" for number in range(2, len(runs) + 1)]
    header = [
        "Configuration",
        "Broker + results",
        "Result",
        "CPU ms per task: median (rounds)",
        "CPU × baseline",
        "Tasks/s: median (rounds)",
        "Tasks/s × baseline",
        *extra,
        "Published/s",
        "Publish→start p50 / p99 ms",
        "Publish→done p50 / p99 ms",
    ]
    rows = []
    order = [(combo, "generated", mode) for combo in COMBOS for mode in ("stored", "ignored")]
    order.append((BASELINE_COMBO, "baseline", "stored"))
    for combo, variant, mode in order:
        record = find(main, combo, variant, mode)
        if record is None:
            continue
        others = []
        for run in runs[1:]:
            other = find(run, combo, variant, mode)
            others.append(f"{cpu(other):.2f}, {tps(other):.0f}" if other else "–")
        rows.append(
            (
                "**baseline**" if variant == "baseline" else "generated",
                combo,
                mode,
                cpu_cell(record),
                ratio(cpu(record), cpu(baseline)),
                tps_cell(record),
                ratio(tps(record), tps(baseline)),
                *others,
                f"{mean(record['publish_per_second']):.0f}",
                ms(record["to_start_ms"]),
                ms(record["to_done_ms"]),
            )
        )
    counts = main["counts"]
    text = (
        f"Each worker runs 2 pool processes. Throughput: {counts['batch']} tasks sent as fast "
        "as one publisher can, timed from the first publish to the end of the last task "
        f"({counts['batch_django_db']} tasks where each stores its result in PostgreSQL, "
        "which is far slower); "
        f"{counts['rounds']} rounds, in turns with the other configurations of the same "
        "broker. Latency: "
        f"{counts['sequential']} tasks per round sent one at a time, each 10 ms after the "
        "previous one finished; *start* is when the pool process began the task, *done* "
        "when it had finished and stored its result. Result *stored*: `round_trip` as the project "
        "declares it (`ignore_result=False`); *ignored*: the same task sent with "
        "`ignore_result=True`, as every task that does not opt in behaves.\n\n"
    )
    return text + table(header, rows)


PARTS = {
    "publisher": "publisher",
    "worker": "worker (main + pool)",
    "rabbitmq": "RabbitMQ",
    "redis": "Redis",
    "postgres": "PostgreSQL",
}


def cpu_section(runs):
    main = runs[0]
    rows = []
    for record in main["workers"]:
        parts = record["cpu_ms_per_task"]
        rows.append(
            (
                record["variant"],
                record["combo"],
                record["mode"],
                *(f"{parts[part]:.2f}" for part in PARTS),
                f"**{cpu(record):.2f}**",
            )
        )
    header = ["Configuration", "Broker + results", "Result", *PARTS.values(), "Total"]
    return table(header, rows)


def variants_section(runs):
    main = runs[0]
    rows = []
    for record in main["workers"]:
        if record["variant"] in ("generated", "baseline"):
            continue
        reference = find(main, record["combo"], "generated", record["mode"])
        rows.append(
            (
                CHANGES.get(record["variant"], record["variant"]),
                record["combo"],
                record["mode"],
                cpu_cell(record),
                ratio(cpu(record), cpu(reference)),
                tps_cell(record),
                ratio(tps(record), tps(reference)),
                f"{record['publish_ms']['p50']:.2f} (gen. {reference['publish_ms']['p50']:.2f})",
                f"{record['to_done_ms']['p50']:.1f} (gen. {reference['to_done_ms']['p50']:.1f})",
            )
        )
    header = [
        "Change from the generated configuration",
        "Broker + results",
        "Result",
        "CPU ms per task: median (rounds)",
        "CPU × generated",
        "Tasks/s: median (rounds)",
        "Tasks/s × generated",
        "Publish p50 ms",
        "Publish→done p50 ms",
    ]
    return table(header, rows)


def memory_section(runs):
    main = runs[0]
    rows = []
    for record in main["memory"]:
        for sample in record["samples"]:
            rows.append(
                (
                    record["label"],
                    sample["tasks"],
                    ", ".join(f"{child['rss']:.1f}" for child in sample["children"]),
                    ", ".join(f"{child['uss']:.1f}" for child in sample["children"]),
                    f"{sample['parent']['rss']:.1f}",
                    "–"
                    if sample["tasks_per_second"] is None
                    else f"{sample['tasks_per_second']:.0f}",
                )
            )
        rows.append(("", "pool processes used:", record["pool_processes"], "", "", ""))
    header = [
        "Worker",
        "Tasks run",
        "Pool processes RSS MiB",
        "… of it private MiB",
        "Main process RSS MiB",
        "Tasks/s (batch)",
    ]
    return table(header, rows) + "\n\n" + memory_findings(main)


def memory_findings(run):
    unlimited = run["memory"][0]
    # From the end of the first batch: the first tasks import and cache what they use.
    first, last = unlimited["samples"][1], unlimited["samples"][-1]
    grown = max(
        b["rss"] - a["rss"] for a, b in zip(first["children"], last["children"], strict=False)
    )
    rss = max(child["rss"] for child in last["children"])
    private = max(child["uss"] for child in last["children"])
    limited = run["memory"][-1]
    return (
        f"Without limits, a pool process held {rss:.0f} MiB resident after {last['tasks']} "
        f"tasks, {private:.0f} MiB of it its own, and grew by {grown:.1f} MiB over the last "
        f"{last['tasks'] - first['tasks']} tasks: no leak to speak of, so neither limit had "
        "anything to bound here, and 256 MiB is far above what a pool process needs. With "
        f"`{limited['label']}` the worker used {limited['pool_processes']} pool processes "
        "for the same tasks, each replaced by a fresh one forked from the main process. The "
        "limits are insurance against a leak in a task or a library, which these tasks do "
        "not have; a replacement costs a fork and the new process's start, and the "
        "tasks/s column shows what that came to here, within this machine's noise."
    )


# ---------------------------------------------------------------------------
# Findings, computed from the figures so that a re-run keeps them true
# ---------------------------------------------------------------------------


class Figures:
    """Lookups into one run's worker figures, None where a configuration is missing."""

    def __init__(self, run):
        self.run = run

    def record(self, combo, variant, mode):
        return find(self.run, combo, variant, mode)

    def cpu(self, combo, variant, mode):
        record = self.record(combo, variant, mode)
        return cpu(record) if record else None

    def part(self, combo, variant, mode, part):
        record = self.record(combo, variant, mode)
        return record["cpu_ms_per_task"][part] if record else None

    def publish(self, combo, variant, mode):
        record = self.record(combo, variant, mode)
        return record["publish_ms"]["p50"] if record else None

    def change(self, variant, combo, mode, reference=("generated", None)):
        """CPU per task of a variant relative to the generated configuration (or to
        `reference`, a (variant, mode) pair), and whether the rounds of the two overlap:
        then the difference is within the noise."""
        record = self.record(combo, variant, mode)
        other = self.record(combo, reference[0], reference[1] or mode)
        if not record or not other:
            return None
        a, b = record["cpu_ms_per_task_rounds"], other["cpu_ms_per_task_rounds"]
        return cpu(record) / cpu(other), max(min(a), min(b)) <= min(max(a), max(b))


def percent(factor):
    return f"{(factor - 1) * 100:+.0f} %"


def noise(run):
    """How far a configuration's CPU per task strays between its rounds: the median, over
    all configurations, of half the spread of the rounds relative to their median."""
    spreads = [
        (max(rounds) - min(rounds)) / 2 / statistics.median(rounds)
        for rounds in (record["cpu_ms_per_task_rounds"] for record in run["workers"])
        if len(rounds) > 1
    ]
    return statistics.median(spreads) if spreads else 0.0


def effect(change):
    """A CPU change as a percentage, noted when the two configurations' rounds overlap."""
    factor, overlapping = change
    if overlapping:
        return f"{percent(factor)} (within the noise)"
    return percent(factor)


def inverse(change):
    factor, overlapping = change
    return 1 / factor, overlapping


def findings(runs):
    """Bullet points computed from the main run's figures, so that a re-run keeps them true."""
    f = Figures(runs[0])
    rr, rmq = BASELINE_COMBO, "rabbitmq + redis"
    lines = [
        f"- **Noise.** A configuration's CPU per task varied by ±{noise(runs[0]) * 100:.0f} % "
        "between its rounds (median over all configurations), with the other work on the "
        "machine. A difference is marked *within the noise* where the rounds of the two "
        "configurations overlap."
    ]

    base = f.cpu(rr, "baseline", "stored")
    stored, ignored = f.cpu(rr, "generated", "stored"), f.cpu(rr, "generated", "ignored")
    if base and stored and ignored:
        parts = ", ".join(
            f"{PARTS[part]} {f.part(rr, 'generated', 'stored', part):.2f} against "
            f"{f.part(rr, 'baseline', 'stored', part):.2f}"
            for part in ("publisher", "worker", "redis")
        )
        lines.append(
            f"- **Against the baseline, on the same servers.** A task that stores its result "
            f"costs {stored:.2f} CPU ms as generated against {base:.2f} for the baseline "
            f"({effect(f.change('generated', rr, 'stored', reference=('baseline', 'stored')))}"
            f"; by process: {parts}). A task that stores nothing, the project's default, "
            f"costs {ignored:.2f} ms "
            f"({effect(f.change('generated', rr, 'ignored', reference=('baseline', 'stored')))}"
            " against the baseline, which stores every result)."
        )
    effects = [
        (variant, f.change(variant, rr, "stored"))
        for variant in ("no-track-started", "direct-exchanges", "prefetch-4", "no-events")
    ]
    effects = [(variant, change) for variant, change in effects if change]
    if effects:
        lines.append(
            "- **One setting at a time on Redis**, CPU per stored-result task: "
            + "; ".join(f"{CHANGES[variant]}: {effect(change)}" for variant, change in effects)
            + ". Task events are on in the baseline too (Flower needs them), so they are not "
            "part of the difference."
        )
    explained = [
        (part, variant, f.part(rr, "generated", "stored", part))
        for part, variant in (
            ("worker", "no-track-started"),
            ("redis", "no-track-started"),
            ("publisher", "direct-exchanges"),
        )
    ]
    if (
        base
        and all(value is not None for _, _, value in explained)
        and all(f.record(rr, variant, "stored") for _, variant, _ in explained)
    ):
        sentences = []
        for part, variant, generated in explained:
            without = f.part(rr, variant, "stored", part)
            baseline = f.part(rr, "baseline", "stored", part)
            gap = generated - baseline
            share = (generated - without) / gap if gap > 0 else 0
            amount = "most" if share >= 0.5 else "some" if share > 0.15 else "little"
            sentences.append(
                f"{PARTS[part]}: {generated:.2f} ms as generated, {without:.2f} with "
                f"{CHANGES[variant]}, {baseline:.2f} for the baseline, so that setting "
                f"accounts for {amount} of this share"
            )
        lines.append(
            "- **Where the difference from the baseline comes from, process by process** "
            "(CPU ms per stored-result task, all rounds): "
            + "; ".join(sentences)
            + ". The `STARTED` state is one more result write (and its `PUBLISH`) per task "
            "that stores its result; on Redis, kombu matches each publish's routing key "
            "against the bindings' patterns of a topic exchange, work that a direct "
            "exchange does not need, and the topic exchanges serve only RabbitMQ's native "
            "delayed delivery."
        )
    kept = [(combo, f.cpu(combo, "generated", "stored")) for combo in COMBOS[::2]]
    closed = [(combo, f.cpu(combo, "db-close", "stored")) for combo in COMBOS[::2]]
    if all(value for _, value in kept + closed):
        lines.append(
            "- **Results in PostgreSQL: the cost is the connection, not the write.** "
            "Celery's Django fix-up, left to its default, closes every database connection "
            "before and after each task, whatever `CONN_MAX_AGE` says, so every task that "
            "touches the database opens a new PostgreSQL connection: TCP, SCRAM "
            "authentication, a new server process. A task that stores its result in "
            "PostgreSQL then costs "
            + " and ".join(f"{value:.1f}" for _, value in closed)
            + " CPU ms (RabbitMQ, Redis broker; `db-close`). The project keeps the "
            "connection between tasks, as Django keeps it between requests "
            "(`CELERY_DB_REUSE_MAX`, with `CONN_MAX_AGE` and a health check per task), and "
            "the same task costs "
            + " and ".join(f"{value:.1f}" for _, value in kept)
            + " ms: "
            + " and ".join(
                f"{b / a:.1f}× less" for (_, a), (_, b) in zip(kept, closed, strict=True)
            )
            + ". Every task that uses the ORM saves the same, whatever the result "
            "backend."
        )
    publish = {
        variant: f.publish(rmq, variant, "ignored")
        for variant in ("generated", "no-confirms", "no-sent-event", "no-confirms,no-sent-event")
    }
    if all(publish.values()):
        changes = {variant: f.change(variant, rmq, "ignored") for variant in publish}
        changes.pop("generated")
        share = 1 - publish["no-confirms"] / publish["generated"]
        headline = (
            "confirms are most of the time"
            if share >= 0.5
            else f"confirms are {share * 100:.0f} % of the time"
        )
        lines.append(
            f"- **Publishing to RabbitMQ: {headline}.** Median publish "
            f"(result ignored): {publish['generated']:.2f} ms as generated, "
            f"{publish['no-confirms']:.2f} ms without publisher confirms. With confirms "
            "`delay()` waits for RabbitMQ to confirm the task message (for a quorum queue, "
            "once it is in the queue's log on disk) and also the `task-sent` event that "
            "`task_send_sent_event` publishes on the same channel (confirmed at once when, "
            "as here, no Flower queue is bound): "
            f"{publish['no-sent-event']:.2f} ms without the sent event, "
            f"{publish['no-confirms,no-sent-event']:.2f} ms without both. CPU per task: "
            f"{effect(changes['no-confirms'])} without confirms, "
            f"{effect(changes['no-sent-event'])} without the sent event, "
            f"{effect(changes['no-confirms,no-sent-event'])} without both."
        )
    classic = f.change("classic-queues", rmq, "ignored")
    if classic:
        lines.append(
            f"- **Quorum queues** against classic durable queues: CPU per task "
            f"{effect(classic)} with classic queues (result ignored; RabbitMQ's "
            "own share "
            f"{f.part(rmq, 'classic-queues', 'ignored', 'rabbitmq'):.2f} ms against "
            f"{f.part(rmq, 'generated', 'ignored', 'rabbitmq'):.2f} as generated), on a single "
            "node where there is nothing to replicate to."
        )
    late = [f.change("acks-late", rr, mode) for mode in ("stored", "ignored")]
    prefetch = [f.change("prefetch-4", combo, "ignored") for combo in (rr, rmq)]
    if all(late) and all(prefetch):
        lines.append(
            f"- **Late acknowledgement** for every task: {effect(late[0])} (result "
            f"stored), {effect(late[1])} (ignored), on Redis. **Prefetch 4 "
            f"instead of 1**: {effect(prefetch[0])} on Redis, "
            f"{effect(prefetch[1])} on RabbitMQ (result ignored)."
        )
    return "\n".join(lines)


def tradeoffs(runs):
    """What each setting costs here (computed) and what it buys (from the docs)."""
    f = Figures(runs[0])
    rr, rmq = BASELINE_COMBO, "rabbitmq + redis"

    def cost(variant, combo, mode):
        """CPU per task with the setting, against without it (the variant)."""
        change = f.change(variant, combo, mode)
        return effect(inverse(change)) if change else "–"

    def publish(variant, combo):
        with_it, without = (
            f.publish(combo, "generated", "ignored"),
            f.publish(combo, variant, "ignored"),
        )
        return (
            f"; publish p50 {with_it:.2f} ms against {without:.2f}" if with_it and without else ""
        )

    def stored_over_ignored(combo):
        change = f.change("generated", combo, "stored", reference=("generated", "ignored"))
        return effect(change) if change else "–"

    rows = [
        (
            "Publisher confirms (RabbitMQ)",
            cost("no-confirms", rmq, "ignored") + publish("no-confirms", rmq),
            "A `delay()` that returned is in the queue; without confirms, a broker crash "
            "silently loses messages that `delay()` reported as sent "
            "([Celery configuration](celery-configuration.md)).",
        ),
        (
            "`task-sent` events (`task_send_sent_event`)",
            cost("no-sent-event", rmq, "ignored") + " on RabbitMQ" + publish("no-sent-event", rmq),
            "Flower shows a task from the moment it is sent, not only once a worker has "
            "received it. With confirms, it is a second confirmed publish per `delay()`.",
        ),
        (
            "Task events, all of them",
            cost("no-events", rr, "ignored") + " on Redis",
            "Flower's live view of tasks and workers.",
        ),
        (
            "Quorum queues (RabbitMQ)",
            cost("classic-queues", rmq, "ignored"),
            "Replicated, durable queues with dead-lettering, RabbitMQ's recommended type "
            "for messages that must not be lost (replication needs a cluster).",
        ),
        (
            "Topic exchanges",
            cost("direct-exchanges", rr, "ignored") + " on Redis",
            "Countdowns and ETAs wait inside RabbitMQ (native delayed delivery) rather than "
            "in a worker's memory. Nothing on Redis.",
        ),
        (
            "Prefetch multiplier 1",
            cost("prefetch-4", rr, "ignored")
            + " on Redis, "
            + cost("prefetch-4", rmq, "ignored")
            + " on RabbitMQ",
            "A long task does not hold short ones back in a prefetch buffer; on Redis, a "
            "killed worker strands at most one message per pool process until the "
            "visibility timeout.",
        ),
        (
            "`STARTED` state (`task_track_started`)",
            cost("no-track-started", rr, "stored") + " (tasks that store results)",
            "A status page can tell queued from running. Tasks that store nothing do not pay it.",
        ),
        (
            "Late acks (per task, `acks_late=True`)",
            cost("acks-late", rr, "ignored") + " on Redis",
            "A task whose worker dies mid-way runs again. Only for idempotent tasks.",
        ),
        (
            "A stored result (`ignore_result=False`)",
            stored_over_ignored(rr)
            + " with Redis results, "
            + stored_over_ignored("rabbitmq + django-db")
            + " with `django-db`",
            "The status page can read it. Hence the project's default `ignore_result=True`.",
        ),
        (
            "The database connection kept between tasks (`CELERY_DB_REUSE_MAX`), "
            "instead of Celery's new connection per task",
            cost("db-close", "rabbitmq + django-db", "stored") + " for a task that stores "
            "its result in PostgreSQL",
            "A connection bounded by `CONN_MAX_AGE` and health-checked before each task.",
        ),
    ]
    return table(["Setting", "What it costs here (CPU per task)", "What it buys"], rows)


# ---------------------------------------------------------------------------
# The plot
# ---------------------------------------------------------------------------


def plot(runs, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    main = runs[0]
    figure, axes = plt.subplots(2, 2, figsize=(14, 10))

    # Web requests.
    ax = axes[0][0]
    kinds = ["GET /", "POST / rejected", "POST / enqueues"]
    width = 0.26
    for index, kind in enumerate(kinds):
        p50 = [record["kinds"][kind]["p50"] for record in main["web"]]
        p99 = [record["kinds"][kind]["p99"] for record in main["web"]]
        positions = [x + (index - 1) * width for x in range(len(main["web"]))]
        ax.bar(positions, p50, width, label=f"{kind} (p50)")
        ax.scatter(positions, p99, marker="_", s=200, color="black")
    ax.set_xticks(range(len(main["web"])))
    ax.set_xticklabels([record["combo"].replace(" + ", "\n+ ") for record in main["web"]])
    ax.set_ylabel("ms per request (bar: p50, dash: p99)")
    ax.set_title("Web request latency, Gunicorn, 2 workers")
    ax.legend(fontsize=8)

    # CPU per task, by process: generated vs baseline.
    ax = axes[0][1]
    records = [
        find(main, combo, "generated", mode) for combo in COMBOS for mode in ("stored", "ignored")
    ]
    records = [record for record in records if record]
    records.append(find(main, BASELINE_COMBO, "baseline", "stored"))
    labels = [
        f"{'BASELINE' if r['variant'] == 'baseline' else 'generated'} {r['combo']}, {r['mode']}"
        for r in records
    ]
    left = [0.0] * len(records)
    for part, name in PARTS.items():
        values = [record["cpu_ms_per_task"][part] for record in records]
        ax.barh(range(len(records)), values, left=left, label=name)
        left = [a + b for a, b in zip(left, values, strict=True)]
    for index, record in enumerate(records):
        ax.text(left[index], index, f" {tps(record):.0f} tasks/s", va="center", fontsize=7)
    ax.set_yticks(range(len(records)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(right=max(left) * 1.3)
    ax.set_xlabel("CPU ms per task, all processes (text: measured tasks/s)")
    ax.set_title("Cost per task of round_trip: generated vs baseline")
    ax.legend(fontsize=7, loc="lower right")

    # One setting at a time.
    ax = axes[1][0]
    labels, values, colours, low, high = [], [], [], [], []
    for record in main["workers"]:
        if record["variant"] in ("generated", "baseline"):
            continue
        reference = cpu(find(main, record["combo"], "generated", record["mode"]))
        rounds = record["cpu_ms_per_task_rounds"]
        labels.append(f"{record['variant']} ({record['combo']}, {record['mode']})")
        values.append(cpu(record) / reference)
        low.append(values[-1] - min(rounds) / reference)
        high.append(max(rounds) / reference - values[-1])
        colours.append("tab:green" if values[-1] <= 1 else "tab:orange")
    ax.barh(range(len(values)), values, color=colours, xerr=[low, high], ecolor="grey")
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_yticks(range(len(values)))
    ax.set_yticklabels(labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(
        "CPU per task relative to the generated configuration (lower is cheaper; "
        "whiskers: the variant's rounds)"
    )
    ax.set_title("One setting changed at a time")

    # Memory.
    ax = axes[1][1]
    for record in main["memory"]:
        tasks = [sample["tasks"] for sample in record["samples"]]
        rss = [mean([c["rss"] for c in sample["children"]]) for sample in record["samples"]]
        ax.plot(tasks, rss, marker="o", label=record["label"])
    ax.set_xlabel("summarise_signups tasks run")
    ax.set_ylabel("mean RSS per pool process, MiB")
    ax.set_ylim(bottom=0)
    ax.set_title("Worker pool process memory")
    ax.legend(fontsize=8)

    figure.suptitle(
        f"cookiecutter-django-celery benchmarks, {main['date']}, "
        f"{main['machine']['cores']} cores (figures from this machine only)"
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    plt.close(figure)


# ---------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------


def write(runs):
    plot(runs, PLOT)
    PAGE.write_text(page(runs))


def page(runs):
    main = runs[0]
    counts = main["counts"]
    return f"""# Benchmarks

What the generated configuration costs, measured on real servers with the generated
project's own processes: how long a web request that enqueues a task takes, how many
trivial tasks a worker gets through, how fast one task goes from `delay()` to done,
and how much memory a worker's pool processes hold. The generated configuration is
compared with a baseline of common template defaults, and then changed one setting at
a time to find out where each difference comes from.

!!! note "Figures from one machine"
    Every figure on this page comes from the machine described below, on the date
    shown, and from nowhere else. On other hardware, other server versions or with
    other load, the absolute figures will differ; compare configurations within a run.
    Re-run the benchmark to refresh the page (below).

![Benchmark results](images/benchmarks.png)

## Running it

From a checkout of this repository, with the test requirements installed in `.venv`
and `pip install -r benchmarks/requirements.txt` (matplotlib):

```bash
.venv/bin/python benchmarks/run.py
```

It takes about {main["seconds"] / 60:.0f} minutes. `benchmarks/README.md` says what it
starts and measures; its figures rewrite this page and the plot above.

## The machine

{machine_section(runs)}

## Enqueue cost inside a web request

Each generated project runs under Gunicorn (`gunicorn config.wsgi --workers=2`) with its
production settings (`DJANGO_SECURE_SSL_REDIRECT=false`, so plain HTTP on loopback).
No worker runs meanwhile, so the figures are the web process's alone.

{web_section(runs)}

## Throughput and latency: generated configuration vs baseline

The task is the project's `scheduling.tasks.round_trip`, which returns a two-key dict
and touches neither the database nor the network: what is measured is Celery, the
broker and the result backend. Workers are started with the project's
`compose/production/celery/worker/start` (the `celery worker` command of
`compose/local/celery/worker/start`, without the reload wrapper), 2 pool processes each.

The **baseline** mirrors what common Django + Celery templates ship: Redis as broker
and result backend, no publisher confirms, early acknowledgement, Celery's default
prefetch multiplier (4), a result stored for every task with no `STARTED` state, and
Celery's default classic queue on a direct exchange. Everything else (JSON only, task
events for Flower, extended results, time limits, the start script) is the same as
in the generated configuration.

{throughput_section(runs)}

On a shared machine, tasks per second depend as much on what else runs as on the
configuration. The CPU time each task costs does not: it is the sum, over a batch, of
the CPU time used by the publisher (while publishing), the worker (main process and pool
processes), RabbitMQ, Redis and PostgreSQL (each with its children), divided by the
number of tasks. On a machine given over to the site, throughput is bounded by the
cores divided by that cost; compare configurations by it first.

CPU milliseconds per task, by process (all rounds together):

{cpu_section(runs)}

## Where the differences come from: one setting at a time

Each row changes one setting of the generated configuration and is compared with the
generated configuration on the same broker, result backend and result mode, measured
in the same rounds.

{variants_section(runs)}

What the figures say:

{findings(runs)}

What each setting of the generated configuration costs here, and what it buys:

{tradeoffs(runs)}

## Worker memory

Workers consuming `examples.reports.tasks.summarise_signups` (one query on the users table,
result stored in PostgreSQL; RabbitMQ broker) in batches of {counts["memory_batch"]},
with 2 pool processes. RSS is read from `/proc/PID/smaps_rollup` after each batch;
*private* is the part not shared with the main process (RSS counts pages shared after
`fork()` once per process). *No limits* is `celery worker` without
`--max-tasks-per-child` and `--max-memory-per-child`; the others run the production
start script, whose defaults are 1000 tasks and 256 MiB (262144 KiB) per pool process.

{memory_section(runs)}

## How it measures

- **Servers**: one PostgreSQL, two Redis (one for the site, one only for the
  benchmark's probe) and one RabbitMQ node, started by `tests/services.py` on free
  ports of 127.0.0.1. Each configuration gets its own RabbitMQ virtual host or Redis
  databases, deleted or emptied afterwards. PostgreSQL runs with `fsync = off`, as the
  test helpers start it, so a database write costs less here than on a production
  server; RabbitMQ and Redis write to disk as they would in production.
- **Projects**: generated with `cookiecutter --no-input` for each broker and result
  backend, each with its own migrated database. Nothing in them is edited: the
  benchmark's settings module (`benchmarks/benchprobe/settings.py`) imports the
  project's production settings and applies one named variant; it is put on
  `PYTHONPATH` and chosen with `DJANGO_SETTINGS_MODULE`.
- **CPU time**: `utime + stime + cutime + cstime` from `/proc/PID/stat` of each
  server's main process and of the worker's main process, plus those of all their live
  descendants (a reaped child's time is in its parent's `cutime`/`cstime`), read just
  before a batch's first publish and just after its last task ended; the publisher's
  own, from `getrusage`, over its publishing. Clock-tick resolution (10 ms) is small
  against a batch's several seconds of CPU. Idle workers of the other configurations
  cost their broker a little too; that is counted.
- **Counting completions**: a `task_postrun` handler in each pool process appends
  `task id, pid, start, end` to a list on the benchmark's own Redis server (one
  `RPUSH`, about 0.1 ms on loopback). The publisher polls the list's length every
  10 ms; the end of a batch is the latest end time in the list, so the polling
  interval does not count. Neither the broker nor the result backend is polled.
- **Fairness**: the configurations of one broker run side by side (idle workers cost
  next to nothing) and are measured in turns, round after round, so that a burst of
  other load on the machine falls on all of them rather than on one.
- **Bounds**: every loop is bounded in count and time, all traffic is on 127.0.0.1,
  and every server and process the benchmark started is stopped at the end.
"""
