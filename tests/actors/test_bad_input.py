"""Bad input in workflows: each gives a specific outcome and the rest goes on."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec
import pytest

import actorbus as ab
import actors
from actors import Task


class Order(msgspec.Struct):
    item: str
    quantity: int


class Clerk(actors.Worker):
    """Takes typed inputs: a task whose inputs do not validate fails."""

    capabilities = ("order",)
    max_retries = 0

    async def perform(self, task: ab.TaskDelegation, ctx: ab.Context) -> Any:
        order = msgspec.convert(task.inputs, Order)  # raises ValidationError
        return f"{order.quantity} x {order.item}"


class Asker(actors.Worker):
    """Asks a model; the model's provider fails for one of the prompts."""

    capabilities = ("ask",)
    model = "gpt-4.1"
    max_retries = 0

    async def perform(self, task: ab.TaskDelegation, ctx: ab.Context) -> Any:
        return (await ctx.complete([ab.user(task.description)])).text


async def test_inputs_that_fail_validation_fail_the_task_saying_why() -> None:
    async with ab.Bus() as bus:
        await bus.spawn(actors.Coordinator, name="coordinator")
        await bus.spawn(Clerk, name="clerk")
        await bus.drain()
        good = Task(id="good", capability="order", inputs={"item": "tea", "quantity": 2})
        bad = Task(id="bad", capability="order", inputs={"item": "tea", "quantity": "many"},
                   max_attempts=1)  # fmt: skip
        result = await actors.run_workflow(bus, "parallel", [good, bad])
        dead = bus.statistics().actors["clerk"].dead_lettered
    assert result.outcome("good").output == "2 x tea"
    failed = result.outcome("bad")
    assert failed.status == "FAILED"
    assert failed.error is not None
    assert "Expected `int`, got `str`" in failed.error
    assert dead == 1  # the delegation went to the clerk's dead letters too


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # models need asyncio
async def test_a_model_error_in_one_parallel_branch_fails_only_that_branch(
    anyio_backend: str,
) -> None:
    def gateway(request: httpx.Request) -> httpx.Response:
        prompt = msgspec.json.decode(request.content)["messages"][-1]["content"]
        if prompt == "doomed":
            return httpx.Response(400, json={"error": {"message": "bad request"}})
        choice = {"message": {"content": f"ok: {prompt}"}, "finish_reason": "stop"}
        usage = {"prompt_tokens": 1, "completion_tokens": 1}
        body = {"choices": [choice], "model": "gpt-4.1", "usage": usage}
        return httpx.Response(200, json=body)

    provider = ab.Provider(name="p", base_url="https://gateway.test/v1")
    models = ab.Models(
        ab.ModelsConfig(providers=[provider]), transports={"p": httpx.MockTransport(gateway)}
    )
    async with ab.Bus(models=models) as bus:
        await bus.spawn(actors.Coordinator, name="coordinator")
        await bus.spawn(Asker, name="asker")
        await bus.drain()
        tasks = [Task(id=name, capability="ask", description=name, max_attempts=1)
                 for name in ("fine", "doomed", "also-fine")]  # fmt: skip
        result = await actors.run_workflow(bus, "parallel", tasks)
    assert [o.status for o in result.outcomes] == ["COMPLETED", "FAILED", "COMPLETED"]
    assert "ModelResponseError" in (result.outcome("doomed").error or "")
    assert result.outcome("also-fine").output == "ok: also-fine"
