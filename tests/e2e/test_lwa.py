"""LWA clients and the token endpoint (issue 11's protocol): SP-API client libraries do
not sign; they trade a refresh token for an access token at `/auth/o2/token` and send it
as `x-amz-access-token`. Driven with `requests`, as those libraries do."""

import json

import requests

from conftest import nomuck


def token_url(srv):
    return f"{srv.endpoint}/auth/o2/token"


def grant(srv, client, **overrides):
    form = {
        "grant_type": "refresh_token",
        "refresh_token": client["refreshToken"],
        "client_id": client["clientId"],
        "client_secret": client["clientSecret"],
        # Clients add fields of their own; they are ignored.
        "scope": "sellingpartnerapi::notifications",
    }
    form.update(overrides)
    return requests.post(token_url(srv), data=form, timeout=10)


def test_lwa_client_lifecycle_through_a_running_server(make_server):
    srv = make_server(extra_args=["--compute", "false"])
    nomuck(srv.data_dir, "account", "create", "seller")
    # A server holds the data directory: the CLI goes through its admin API.
    client = json.loads(nomuck(srv.data_dir, "lwa", "create", "seller", "--json").stdout)
    assert client["clientId"].startswith("amzn1.application-oa2-client.")
    assert client["refreshToken"].startswith("Atzr|")
    assert client["clientSecret"] and client["accountId"].isdigit()

    reply = grant(srv, client)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["refresh_token"] == client["refreshToken"]
    token = body["access_token"]
    assert token.startswith("Atza|")

    refused = grant(srv, client, client_secret="amzn1.oa2-cs.v1.wrong")
    assert refused.status_code == 401, refused.text
    assert refused.json()["error"] == "invalid_client"
    assert refused.json()["error_description"]
    refused = grant(srv, client, refresh_token="Atzr|not-this-one")
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
    refused = grant(srv, client, grant_type="authorization_code")
    assert (refused.status_code, refused.json()["error"]) == (400, "unsupported_grant_type")

    # SP-API paths are never S3's, whatever the Host (one client sends it truncated).
    for host in ("127.0.0.1", "fws.localhost", None):
        headers = {"x-amz-access-token": token}
        if host:
            headers["Host"] = host
        reply = requests.get(f"{srv.endpoint}/fws/v1/centers", headers=headers, timeout=10)
        assert "<?xml" not in reply.text and "<Error>" not in reply.text, reply.text
        assert reply.headers["content-type"].startswith("application/json"), reply.headers
        assert reply.status_code == 200, reply.text
        assert [c["centerId"] for c in reply.json()["centers"]] == ["SIM1"]
        assert reply.headers["x-amzn-requestid"]
    # A path no API serves is answered in SP-API's shape, never by S3.
    reply = requests.get(f"{srv.endpoint}/fws/v1/nothing-here", headers={"x-amz-access-token": token},
                         timeout=10)
    assert reply.status_code == 404 and reply.json()["errors"][0]["details"], reply.text

    nomuck(srv.data_dir, "lwa", "revoke", client["clientId"])
    refused = grant(srv, client)
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
    listed = json.loads(nomuck(srv.data_dir, "lwa", "list", "seller", "--json").stdout)["clients"]
    assert [c["clientId"] for c in listed] == [client["clientId"]]
    assert listed[0]["revokedAt"] is not None
    missing = nomuck(srv.data_dir, "lwa", "revoke", "amzn1.application-oa2-client.00", check=False)
    assert missing.returncode == 1 and "no LWA client" in missing.stderr, missing.stderr


def test_lwa_clients_on_the_data_directory_and_after_a_restart(make_server):
    srv = make_server(extra_args=["--compute", "false"])
    srv.stop()
    # No server: the CLI opens the data directory itself; text output is `key: value`.
    nomuck(srv.data_dir, "account", "create", "seller")
    text = nomuck(srv.data_dir, "lwa", "create", "seller").stdout
    fields = dict(line.split(": ", 1) for line in text.splitlines() if not line.startswith("#"))
    assert set(fields) == {"client_id", "client_secret", "refresh_token"}, text
    listed = nomuck(srv.data_dir, "lwa", "list").stdout
    assert fields["client_id"] in listed and "active" in listed, listed
    assert fields["client_secret"] not in listed

    # The client made offline works once a server runs.
    srv.start()
    client = {"clientId": fields["client_id"], "clientSecret": fields["client_secret"],
              "refreshToken": fields["refresh_token"]}
    reply = grant(srv, client)
    assert reply.status_code == 200, reply.text
