"""1->10 fan-out: each publish is delivered to 10 actors subscribed to the same topic.

actorbus: N/10 ``await bus.publish(topic, msg)`` calls (N deliveries in all) to 10
actors with empty handlers, timed from the first publish until ``await
bus.drain()`` returns; reported as deliveries per second.

Baseline: 10 raw ``asyncio.Queue(maxsize=1024)`` (the default mailbox bound), one
consumer task each calling an empty ``async def`` handler; the producer awaits
``put`` on every queue in turn for each message, then a sentinel on each, and the
clock stops when all 10 consumers have finished.

Both sides send one pre-built message object, after a warm-up of a tenth of the
publishes. Target: actorbus >= 0.5x the raw delivery rate.
"""

from __future__ import annotations

from ._child import ChildArgs, run_actorbus, run_baseline, run_child, run_pair
from ._pubsub import actorbus_seconds, baseline_seconds
from ._results import Metric, ScenarioResult, Target

FANOUT = 10


def measure(args: ChildArgs) -> ScenarioResult:
    """Run both sides once and return deliveries/s for each."""
    publishes = max(1, args.messages // FANOUT)
    warmup = max(1, publishes // 10)
    ours, raw = run_pair(
        args.repeat_index,
        lambda: run_actorbus(args.backend, lambda: actorbus_seconds(publishes, warmup, FANOUT)),
        lambda: run_baseline(lambda: baseline_seconds(publishes, warmup, FANOUT)),
    )
    deliveries = publishes * FANOUT
    rate = Metric(
        name="rate",
        label="deliveries",
        unit="deliveries/s",
        better="higher",
        actorbus=deliveries / ours,
        baseline=deliveries / raw,
        target=Target("ratio_min", 0.5),
    )
    workload = {"publishes": publishes, "subscribers": FANOUT, "deliveries": deliveries}
    return ScenarioResult("fanout", "1->10 fan-out", args.backend, workload, [rate])


if __name__ == "__main__":
    run_child(measure)
