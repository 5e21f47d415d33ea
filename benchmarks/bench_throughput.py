"""1->1 throughput: one publisher, one actor with an empty handler.

actorbus: N ``await bus.publish(topic, msg)`` calls to one actor whose handler does
nothing, timed from the first publish until ``await bus.drain()`` returns.

Baseline: a raw ``asyncio.Queue(maxsize=1024)`` (the default mailbox bound). The
producer awaits ``put``; one consumer task loops ``m = await q.get(); await
handler(m)`` with an empty ``async def`` handler (the work the actor does), and
the clock stops when the consumer has taken a final sentinel.

Both sides send the same pre-built message object N times, after a warm-up of
N/10 messages. Target: actorbus >= 0.5x the raw rate.
"""

from __future__ import annotations

from ._child import ChildArgs, run_actorbus, run_baseline, run_child, run_pair
from ._pubsub import actorbus_seconds, baseline_seconds
from ._results import Metric, ScenarioResult, Target


def measure(args: ChildArgs) -> ScenarioResult:
    """Run both sides once and return msgs/s for each."""
    count, warmup = args.messages, max(1, args.messages // 10)
    ours, raw = run_pair(
        args.repeat_index,
        lambda: run_actorbus(args.backend, lambda: actorbus_seconds(count, warmup, 1)),
        lambda: run_baseline(lambda: baseline_seconds(count, warmup, 1)),
    )
    rate = Metric(
        name="rate",
        label="throughput",
        unit="msgs/s",
        better="higher",
        actorbus=count / ours,
        baseline=count / raw,
        target=Target("ratio_min", 0.5),
    )
    workload = {"messages": count, "warmup": warmup}
    return ScenarioResult("throughput", "1->1 publish", args.backend, workload, [rate])


if __name__ == "__main__":
    run_child(measure)
