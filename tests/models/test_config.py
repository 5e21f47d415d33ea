"""Model configuration: providers, TOML files, the environment, validation."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

import actorbus as ab
from actorbus._models._price_file import load_prices, price_table

TOML = """
default_model = "deepseek-v3"

[[providers]]
name = "gateway"
base_url = "https://api.example.com/v1"
api_key_env = "GATEWAY_KEY"
models = ["gpt-4.1", "deepseek-v3"]
requests_per_minute = 600
tokens_per_minute = 200000
max_concurrent = 32

[[providers]]
name = "local"
base_url = "http://127.0.0.1:8000/v1"

[assignments]
researcher = "deepseek-v3"
writer = "gpt-4.1"

[fallbacks]
"gpt-4.1" = ["deepseek-v3"]

[prices."my-model"]
input = 1.0
output = 2.0
cached_input = 0.25

[budget]
run = 5.0
actors = { writer = 2.0 }
"""


class TestToml:
    def test_every_section_is_read(self, tmp_path: Path) -> None:
        path = tmp_path / "actorbus.toml"
        path.write_text(TOML)
        config = ab.ModelsConfig.from_toml(path)
        gateway, local = config.providers
        assert gateway.name == "gateway"
        assert gateway.api_key_env == "GATEWAY_KEY"
        assert gateway.models == ["gpt-4.1", "deepseek-v3"]
        assert (gateway.requests_per_minute, gateway.tokens_per_minute) == (600, 200000)
        assert gateway.max_concurrent == 32
        assert local.models == ["*"]
        assert local.serves("anything")
        assert config.default_model == "deepseek-v3"
        assert config.assignments == {"researcher": "deepseek-v3", "writer": "gpt-4.1"}
        assert config.fallbacks == {"gpt-4.1": ["deepseek-v3"]}
        assert config.prices == {"my-model": ab.Price(input=1.0, output=2.0, cached_input=0.25)}
        assert config.prices_file is None
        assert config.budget == ab.Budgets(run=5.0, actors={"writer": 2.0})

    def test_a_missing_file_says_which(self, tmp_path: Path) -> None:
        with pytest.raises(ab.ModelsConfigError, match=r"nope\.toml"):
            ab.ModelsConfig.from_toml(tmp_path / "nope.toml")

    def test_a_file_that_is_not_toml_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "bad.toml"
        path.write_text("[[providers]\nname = ")
        with pytest.raises(ab.ModelsConfigError, match="invalid"):
            ab.ModelsConfig.from_toml(path)

    def test_an_unknown_setting_is_refused_by_name(self, tmp_path: Path) -> None:
        path = tmp_path / "typo.toml"
        path.write_text('[[providers]]\nname = "x"\nbase_url = "http://h/v1"\nrpm = 5\n')
        with pytest.raises(ab.ModelsConfigError, match="rpm"):
            ab.ModelsConfig.from_toml(path)

    def test_a_wrong_type_is_refused_with_its_path(self, tmp_path: Path) -> None:
        path = tmp_path / "type.toml"
        path.write_text('[[providers]]\nname = "x"\nbase_url = "http://h/v1"\nmax_attempts = "3"\n')
        with pytest.raises(ab.ModelsConfigError, match="max_attempts"):
            ab.ModelsConfig.from_toml(path)


class TestProviderValidation:
    @pytest.mark.parametrize(
        ("field", "value", "match"),
        [
            ("base_url", "api.example.com/v1", "http"),
            ("requests_per_minute", 0, "requests_per_minute"),
            ("tokens_per_minute", -5, "tokens_per_minute"),
            ("max_concurrent", 0, "max_concurrent"),
            ("max_attempts", 0, "max_attempts"),
            ("timeout", 0, "timeout"),
        ],
    )
    def test_a_meaningless_setting_is_refused(self, field: str, value: object, match: str) -> None:
        settings: dict[str, object] = {"name": "p", "base_url": "http://h/v1", field: value}
        with pytest.raises(ab.ModelsConfigError, match=match):
            ab.Provider(**settings)  # type: ignore[arg-type]

    def test_provider_names_must_be_unique(self) -> None:
        p = ab.Provider(name="p", base_url="http://h/v1")
        with pytest.raises(ab.ModelsConfigError, match="unique"):
            ab.Models(ab.ModelsConfig(providers=[p, p]))

    def test_a_configuration_needs_a_provider(self) -> None:
        with pytest.raises(ab.ModelsConfigError, match="at least one provider"):
            ab.Models(ab.ModelsConfig())


class TestFromEnv:
    def test_nothing_set_means_the_offline_echo_provider(self) -> None:
        config = ab.ModelsConfig.from_env({})
        assert [p.base_url for p in config.providers] == ["echo:"]
        assert config.providers[0].offline

    def test_a_base_url_makes_one_provider_with_its_key_variable_and_limits(self) -> None:
        config = ab.ModelsConfig.from_env(
            {
                "OPENAI_BASE_URL": "https://gw.example/v1",
                "ACTORBUS_API_KEY_ENV": "GW_KEY",
                "ACTORBUS_REQUESTS_PER_MINUTE": "120",
                "ACTORBUS_TOKENS_PER_MINUTE": "9000",
                "ACTORBUS_MODEL": "deepseek-v3",
            }
        )
        (provider,) = config.providers
        assert provider.base_url == "https://gw.example/v1"
        assert provider.api_key_env == "GW_KEY"
        assert (provider.requests_per_minute, provider.tokens_per_minute) == (120, 9000)
        assert config.default_model == "deepseek-v3"

    def test_the_key_variable_defaults_to_openai_api_key(self) -> None:
        config = ab.ModelsConfig.from_env({"ACTORBUS_BASE_URL": "https://gw.example/v1"})
        assert config.providers[0].api_key_env == "OPENAI_API_KEY"

    def test_a_config_file_variable_wins(self, tmp_path: Path) -> None:
        path = tmp_path / "actorbus.toml"
        path.write_text(TOML)
        config = ab.ModelsConfig.from_env(
            {"ACTORBUS_MODELS_CONFIG": str(path), "OPENAI_BASE_URL": "https://other/v1"}
        )
        assert [p.name for p in config.providers] == ["gateway", "local"]

    def test_a_limit_that_is_not_a_number_is_refused_by_name(self) -> None:
        with pytest.raises(ab.ModelsConfigError, match="ACTORBUS_REQUESTS_PER_MINUTE"):
            ab.ModelsConfig.from_env(
                {"OPENAI_BASE_URL": "https://gw/v1", "ACTORBUS_REQUESTS_PER_MINUTE": "lots"}
            )

    async def test_an_unset_key_variable_fails_on_open_naming_it(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("ACTORBUS_TEST_UNSET_KEY", raising=False)
        provider = ab.Provider(
            name="p", base_url="http://h/v1", api_key_env="ACTORBUS_TEST_UNSET_KEY"
        )
        models = ab.Models(ab.ModelsConfig(providers=[provider]))
        with pytest.raises(ab.ModelsConfigError, match="ACTORBUS_TEST_UNSET_KEY"):
            await models.open()


class TestRouting:
    def _models(self) -> ab.Models:
        return ab.Models(
            ab.ModelsConfig(
                providers=[ab.Provider(name="echo", base_url="echo:")],
                default_model="deepseek-v3",
                assignments={"writer": "gpt-4.1"},
            )
        )

    def test_an_assignment_overrides_what_the_actor_declares(self) -> None:
        assert self._models().model_for("writer", "deepseek-v3") == "gpt-4.1"

    def test_the_declared_model_beats_the_default(self) -> None:
        assert self._models().model_for("researcher", "claude-sonnet-4") == "claude-sonnet-4"

    def test_the_default_is_used_when_nothing_is_declared(self) -> None:
        assert self._models().model_for("researcher", None) == "deepseek-v3"

    def test_no_model_anywhere_is_a_clear_error(self) -> None:
        models = ab.Models()
        with pytest.raises(ab.ModelsConfigError, match="declare `model"):
            models.model_for("researcher", None)

    async def test_a_model_no_provider_serves_is_refused_naming_what_is_served(self) -> None:
        provider = ab.Provider(name="p", base_url="echo:", models=["gpt-4.1"])
        async with ab.Models(ab.ModelsConfig(providers=[provider])) as models:
            with pytest.raises(ab.ModelsConfigError, match=r"gpt-4\.1"):
                await models.complete([ab.user("hi")], model="llama")


LITELLM = {
    "sample_spec": {
        "input_cost_per_token": 0.0,
        "litellm_provider": "one of https://docs.litellm.ai/docs/providers",
        "max_tokens": "LEGACY parameter. set to max_output_tokens if provider specifies it.",
        "mode": "one of: chat, embedding, completion, image_generation, ...",
    },
    "house-gpt": {
        "cache_read_input_token_cost": 5e-07,
        "input_cost_per_token": 2e-06,
        "input_cost_per_token_batches": 1e-06,
        "litellm_provider": "openai",
        "max_input_tokens": 1047576,
        "mode": "chat",
        "output_cost_per_token": 8e-06,
        "supported_endpoints": ["/v1/chat/completions"],
        "supports_vision": True,
    },
    "deepseek/house-chat": {
        "input_cost_per_token": 2.8e-07,
        "input_cost_per_token_cache_hit": 2.8e-08,
        "litellm_provider": "deepseek",
        "mode": "chat",
        "output_cost_per_token": 4.2e-07,
    },
    "no-cache-price": {"input_cost_per_token": 1e-06, "output_cost_per_token": 3e-06},
    "house-image": {
        "litellm_provider": "openai",
        "mode": "image_generation",
        "output_cost_per_image": 0.04,
        "input_cost_per_token": "not even a number",
    },
    "house-embed": {
        "input_cost_per_token": 1e-07,
        "litellm_provider": "openai",
        "mode": "embedding",
        "output_cost_per_token": 0.0,
    },
    "house-responses-only": {
        "input_cost_per_token": 1.5e-05,
        "litellm_provider": "openai",
        "mode": "responses",
        "output_cost_per_token": 0.00012,
    },
    "no-prices": {"litellm_provider": "gradient_ai", "mode": "chat", "max_tokens": 16384},
}


class TestPricesFile:
    def test_litellms_format_is_read_per_million_and_skips_what_is_not_chat(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "model_prices_and_context_window.json"
        path.write_text(json.dumps(LITELLM))
        assert load_prices(path) == {
            "house-gpt": ab.Price(input=2.0, output=8.0, cached_input=0.5),
            "deepseek/house-chat": ab.Price(input=0.28, output=0.42, cached_input=0.028),
            "no-cache-price": ab.Price(input=1.0, output=3.0),
        }

    @pytest.mark.parametrize(
        ("name", "text"),
        [
            pytest.param(
                "prices.toml",
                '["house-model"]\ninput = 1.0\noutput = 4\ncached_input = 0.1\n\n'
                '["other"]\ninput = 0.5\noutput = 1.5\n',
                id="toml",
            ),
            pytest.param(
                "prices.json",
                '{"house-model": {"input": 1.0, "output": 4, "cached_input": 0.1},'
                ' "other": {"input": 0.5, "output": 1.5}}',
                id="json",
            ),
        ],
    )
    def test_our_format_is_read_from_toml_or_json(
        self, tmp_path: Path, name: str, text: str
    ) -> None:
        path = tmp_path / name
        path.write_text(text)
        assert load_prices(path) == {
            "house-model": ab.Price(input=1.0, output=4.0, cached_input=0.1),
            "other": ab.Price(input=0.5, output=1.5),
        }

    @pytest.mark.parametrize(
        ("name", "text", "problem"),
        [
            pytest.param(
                "p.json",
                '{"house-model": {"input": 1, "ouput": 2}}',
                r"entry 'house-model' is invalid: .*unknown field `ouput`",
                id="typo",
            ),
            pytest.param(
                "p.toml",
                '["house-model"]\ninput = 1\n',
                r"entry 'house-model' is invalid: .*missing required field `output`",
                id="missing",
            ),
            pytest.param(
                "p.json",
                '{"house-model": {"input": -1, "output": 2}}',
                r"entry 'house-model' is invalid: .*input must be",
                id="negative",
            ),
            pytest.param(
                "p.json",
                '{"house-model": {"input_cost_per_token": "1e-6", "mode": "chat"}}',
                r"entry 'house-model' is invalid: Expected `float \| null`, got `str`",
                id="litellm-type",
            ),
            pytest.param(
                "p.json",
                '{"sample_spec": {}, "house-model": 3}',
                r"entry 'house-model' is invalid: expected an object",
                id="litellm-not-object",
            ),
            pytest.param(
                "p.json",
                '{"house-model": {"input_cost_per_token": -1e-6, "output_cost_per_token": 0}}',
                r"entry 'house-model' is invalid: .*input must be",
                id="litellm-negative",
            ),
            pytest.param("p.json", "[1, 2]", "must map model names to prices", id="a-list"),
            pytest.param("p.json", "{nope", "is not valid JSON", id="not-json"),
            pytest.param("p.toml", "[[nope", "is not valid TOML", id="not-toml"),
        ],
    )
    def test_a_bad_file_names_the_file_and_the_entry(
        self, tmp_path: Path, name: str, text: str, problem: str
    ) -> None:
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(ab.ModelsConfigError, match=problem) as caught:
            load_prices(path)
        assert str(path) in str(caught.value)

    def test_a_missing_file_says_which(self, tmp_path: Path) -> None:
        with pytest.raises(ab.ModelsConfigError, match=r"cannot read prices file .*gone\.json"):
            load_prices(tmp_path / "gone.json")

    def test_prices_in_the_toml_file_name_a_file_beside_it(self, tmp_path: Path) -> None:
        (tmp_path / "conf").mkdir()
        (tmp_path / "conf" / "prices.json").write_text(json.dumps(LITELLM))
        path = tmp_path / "conf" / "actorbus.toml"
        path.write_text(
            'prices = "prices.json"\n\n[[providers]]\nname = "p"\nbase_url = "http://h/v1"\n\n'
            "[budget]\nrun = 1.0\nallow_unpriced = true\n"
        )
        config = ab.ModelsConfig.from_toml(path)
        assert config.prices_file == str(tmp_path / "conf" / "prices.json")
        assert config.prices == {}
        assert config.budget == ab.Budgets(run=1.0, allow_unpriced=True)
        table = price_table(config)
        assert table.price("house-gpt") == ab.Price(input=2.0, output=8.0, cached_input=0.5)
        assert table.price("gpt-4.1") == ab.DEFAULT_PRICES["gpt-4.1"]  # the defaults remain

    def test_prices_file_and_prices_path_cannot_both_be_given(self, tmp_path: Path) -> None:
        path = tmp_path / "actorbus.toml"
        path.write_text('prices = "a.json"\nprices_file = "b.json"\n')
        with pytest.raises(ab.ModelsConfigError, match="give one"):
            ab.ModelsConfig.from_toml(path)

    def test_configured_prices_beat_the_file_which_beats_the_defaults(self, tmp_path: Path) -> None:
        path = tmp_path / "prices.json"
        path.write_text(
            '{"gpt-4.1": {"input": 9, "output": 9}, "house-model": {"input": 1, "output": 1}}'
        )
        config = ab.ModelsConfig(
            prices={"house-model": ab.Price(input=3.0, output=3.0)}, prices_file=str(path)
        )
        table = price_table(config)
        assert table.price("gpt-4.1") == ab.Price(input=9.0, output=9.0)
        assert table.price("house-model") == ab.Price(input=3.0, output=3.0)

    def test_models_refuse_a_bad_prices_file_when_made(self, tmp_path: Path) -> None:
        config = ab.ModelsConfig.offline()
        config = msgspec.structs.replace(config, prices_file=str(tmp_path / "gone.json"))
        with pytest.raises(ab.ModelsConfigError, match=r"gone\.json"):
            ab.Models(config)
