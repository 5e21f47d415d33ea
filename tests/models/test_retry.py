"""Reading Retry-After and retry-after-ms, and which failures are retried."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from actorbus._models._retry import is_retryable_error, is_retryable_status, retry_after

NOW = 1_800_000_000.0


class TestRetryAfter:
    def test_seconds(self) -> None:
        assert retry_after({"retry-after": "7"}) == 7.0

    def test_fractional_seconds(self) -> None:
        assert retry_after({"retry-after": "0.25"}) == 0.25

    def test_milliseconds_win_over_seconds(self) -> None:
        assert retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5

    def test_an_http_date_is_seconds_from_now(self) -> None:
        date = email.utils.formatdate(NOW + 30, usegmt=True)
        assert retry_after({"retry-after": date}, now=NOW) == pytest.approx(30.0)

    def test_a_date_in_the_past_means_now(self) -> None:
        date = email.utils.formatdate(NOW - 30, usegmt=True)
        assert retry_after({"retry-after": date}, now=NOW) == 0.0

    @pytest.mark.parametrize("value", ["soon", "-3", "", "Mon, 99 Foo"])
    def test_garbage_counts_as_not_saying(self, value: str) -> None:
        assert retry_after({"retry-after": value}) is None

    def test_bad_milliseconds_fall_back_to_seconds(self) -> None:
        assert retry_after({"retry-after-ms": "x", "retry-after": "2"}) == 2.0

    def test_nothing_said(self) -> None:
        assert retry_after({}) is None

    def test_httpx_headers_are_case_insensitive(self) -> None:
        assert retry_after(httpx.Headers({"Retry-After": "3"})) == 3.0


class TestWhatIsRetried:
    @pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 599])
    def test_retried_statuses(self, status: int) -> None:
        assert is_retryable_status(status)

    @pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
    def test_statuses_not_retried(self, status: int) -> None:
        assert not is_retryable_status(status)

    @pytest.mark.parametrize(
        "exc",
        [
            httpx.ConnectError("refused"),
            httpx.ConnectTimeout("slow"),
            httpx.ReadTimeout("slow"),
            httpx.RemoteProtocolError("cut"),
            httpx.ReadError("reset"),
        ],
    )
    def test_timeouts_and_dropped_connections_are_retried(self, exc: httpx.HTTPError) -> None:
        assert is_retryable_error(exc)

    def test_an_unsupported_url_is_not_retried(self) -> None:
        assert not is_retryable_error(httpx.UnsupportedProtocol("ftp"))
