"""A connection pinged at checkout (idle longer than DB_PING_AFTER_IDLE) is handed out
without a transaction open, so the one-statement reads can switch it to autocommit.

The ping used to leave psycopg2's implicit transaction open: ``GET /users/self`` and
``GET /results/{id}`` then failed with 500 "set_session cannot be used inside a
transaction" on every connection that had been idle (found by tests/api/test_garbage.py).
"""

from backend import create_app
from tests.conftest import bearer


def test_one_statement_reads_work_on_pinged_connections(app_settings, issuer, user):
    app = create_app(**{**app_settings, "DB_PING_AFTER_IDLE": 0})
    client = app.test_client()
    headers = bearer(issuer.mint(user.sub, email=user.email))

    for _ in range(3):  # every checkout after the first one is pinged
        response = client.get("/users/self", headers=headers)

        assert response.status_code == 200, response.json
        assert response.json["email"] == user.email
