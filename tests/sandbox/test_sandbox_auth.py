"""OAuth2 token endpoint and bearer tokens, at the HTTP level."""

from __future__ import annotations

import pytest
from sandbox_helpers import CLIENT, PASSWORD_GRANT

pytestmark = pytest.mark.anyio


async def test_password_grant_as_form_returns_docebo_token_shape(anon):
    answer = await anon.post("/oauth2/token", data={**PASSWORD_GRANT, "scope": "api"})
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"access_token", "expires_in", "token_type", "scope", "refresh_token"}
    assert body["expires_in"] == 3600
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "api"


async def test_client_credentials_as_multipart(anon):
    fields = {"grant_type": "client_credentials", "scope": "api", **CLIENT}
    answer = await anon.post("/oauth2/token", files={k: (None, v) for k, v in fields.items()})
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    courses = await anon.get("/learn/v1/courses", headers={"Authorization": f"Bearer {token}"})
    assert courses.status_code == 200


async def test_password_grant_as_json(anon):
    answer = await anon.post("/oauth2/token", json=PASSWORD_GRANT)
    assert answer.status_code == 200


async def test_client_credentials_as_http_basic(anon):
    answer = await anon.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(CLIENT["client_id"], CLIENT["client_secret"]),
    )
    assert answer.status_code == 200


async def test_refresh_token_grant_issues_new_tokens_once(anon):
    first = (await anon.post("/oauth2/token", data=PASSWORD_GRANT)).json()
    body = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], **CLIENT}
    second = await anon.post("/oauth2/token", data=body)
    assert second.status_code == 200
    assert second.json()["access_token"] != first["access_token"]
    reused = await anon.post("/oauth2/token", data=body)
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        ({**PASSWORD_GRANT, "client_secret": "wrong"}, 401, "invalid_client"),
        ({**PASSWORD_GRANT, "client_id": "someone"}, 401, "invalid_client"),
        ({**PASSWORD_GRANT, "password": "wrong"}, 400, "invalid_grant"),
        ({**CLIENT, "grant_type": "password", "username": "admin"}, 400, "invalid_request"),
        ({**CLIENT}, 400, "invalid_request"),
        ({**CLIENT, "grant_type": "authorization_code"}, 400, "unsupported_grant_type"),
        ({**CLIENT, "grant_type": "refresh_token"}, 400, "invalid_request"),
        ({**CLIENT, "grant_type": "refresh_token", "refresh_token": "nope"}, 400, "invalid_grant"),
    ],
)
async def test_token_errors_are_oauth_errors(anon, fields, status, error):
    answer = await anon.post("/oauth2/token", data=fields)
    assert answer.status_code == status
    assert answer.json()["error"] == error
    assert answer.json()["error_description"]


async def test_token_body_that_is_not_json_is_invalid_request(anon):
    answer = await anon.post(
        "/oauth2/token", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Bearer unknown-token", "Basic YWRtaW46YWRtaW4="]
)
async def test_api_calls_without_a_valid_token_get_401(anon, header):
    headers = {"Authorization": header} if header else {}
    answer = await anon.get("/learn/v1/courses", headers=headers)
    assert answer.status_code == 401
    body = answer.json()
    assert body["status"] == 401
    assert body["name"] == "Unauthorized"
    assert body["message"]


async def test_unknown_api_path_without_token_is_401_not_404(anon):
    answer = await anon.get("/learn/v1/no-such-thing")
    assert answer.status_code == 401


async def test_tokens_expire_on_the_sandbox_clock(client):
    assert (await client.get("/learn/v1/courses")).status_code == 200
    clock = (await client.get("/_sandbox/clock")).json()["effective"]
    year, rest = int(clock[:4]), clock[4:]
    later = f"{year + 1}{rest}"
    assert (await client.put("/_sandbox/clock", json={"now": later})).status_code == 200
    expired = await client.get("/learn/v1/courses")
    assert expired.status_code == 401
    assert "expired" in expired.json()["message"]


async def test_token_lifetime_is_a_setting(anon):
    await anon.put("/_sandbox/settings", json={"token_ttl_s": 60})
    body = (await anon.post("/oauth2/token", data=PASSWORD_GRANT)).json()
    assert body["expires_in"] == 60


async def test_token_calls_are_in_the_call_log(anon):
    await anon.post("/oauth2/token", data=PASSWORD_GRANT)
    await anon.post("/oauth2/token", data={**PASSWORD_GRANT, "password": "x"})
    calls = (await anon.get("/_sandbox/calls")).json()["items"]
    assert [(c["method"], c["path"], c["status"]) for c in calls] == [
        ("POST", "/oauth2/token", 200),
        ("POST", "/oauth2/token", 400),
    ]
