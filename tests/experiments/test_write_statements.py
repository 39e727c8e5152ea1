"""What a ``POST /qps`` asks of the database (its time is mostly round trips): a new job
is inserted with its QPS in one statement, and the experiment's tags are not read."""

from sqlalchemy import event

from backend.extensions import db


def test_a_qps_write_inserts_its_job_once_and_reads_no_tags(client, user_headers):
    client.post(
        "/qps", json={"experiment_id": "e", "selector": "a", "qps": 1.0}, headers=user_headers
    )
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = client.post(
            "/qps", json={"experiment_id": "e", "selector": "b", "qps": 2.5}, headers=user_headers
        )
    finally:
        event.remove(db.engine, "before_cursor_execute", record)

    assert response.status_code == 201
    job_writes = [s for s in statements if "experiment_jobs" in s and not s.startswith("SELECT")]
    assert len(job_writes) == 1 and job_writes[0].startswith("INSERT INTO experiment_jobs")
    assert not [s for s in statements if "experiments_tags" in s]
    assert client.get("/qps/e").json[1] == {"experiment_id": "e", "selector": "b", "qps": 2.5}
