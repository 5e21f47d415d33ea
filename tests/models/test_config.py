"""Model configuration: providers, TOML files, the environment, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

import actorbus as ab

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
        assert config.prices == {"my-model": ab.Price(input=1.0, output=2.0)}
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
