"""Views marked with ``body_limit`` get their own body limit instead of MAX_CONTENT_LENGTH.

Experiments take 10,000,000-sample latency lists and artifacts take files of gigabytes, while
every other JSON route keeps the 1 MiB limit. The marked views here exist only in this test's
app; the limit is enforced by the same before-request hook as for every route.
"""

import io

import pytest
from flask import request
from flask.views import MethodView

from backend import create_app
from backend.middleware import body_limit

LIMIT = 1000
LARGE = 5000


@pytest.fixture
def limits_app(app_settings):
    app = create_app(**{**app_settings, "MAX_CONTENT_LENGTH": LIMIT, "LARGE_BODY_LIMIT": LARGE})

    @app.post("/test-large")
    @body_limit("LARGE_BODY_LIMIT")
    def large():
        return {"received": len(request.get_data())}

    @app.post("/test-streamed")
    @body_limit(None)
    def streamed():
        received = 0
        while chunk := request.stream.read(65536):
            received += len(chunk)
        return {"received": received}

    class Marked(MethodView):
        @body_limit("LARGE_BODY_LIMIT")
        def post(self):
            return {"received": len(request.get_data())}

        def put(self):
            return {"received": len(request.get_data())}

    app.add_url_rule("/test-marked", view_func=Marked.as_view("marked"))
    return app.test_client()


def post(client, path: str, body: bytes, as_chunks: bool = False):
    if not as_chunks:
        return client.post(path, data=body)
    # gunicorn marks its chunked input as terminated; werkzeug's test client does not.
    return client.post(
        path,
        input_stream=io.BytesIO(body),
        headers={"Transfer-Encoding": "chunked"},
        environ_base={"wsgi.input_terminated": True},
    )


def test_a_marked_view_takes_bodies_up_to_its_own_limit(limits_app):
    response = limits_app.post("/test-large", data=b"x" * LARGE)

    assert response.status_code == 200
    assert response.json == {"received": LARGE}


@pytest.mark.parametrize("as_chunks", [False, True])
def test_past_its_own_limit_is_413_naming_the_setting(limits_app, as_chunks):
    response = post(limits_app, "/test-large", b"x" * (LARGE + 1), as_chunks)

    assert response.status_code == 413
    assert "LARGE_BODY_LIMIT" in response.json["message"]


def test_a_method_of_a_method_view_can_be_marked(limits_app):
    assert limits_app.post("/test-marked", data=b"x" * LARGE).status_code == 200
    refused = limits_app.put("/test-marked", data=b"x" * (LIMIT + 1))
    assert refused.status_code == 413
    assert "MAX_CONTENT_LENGTH" in refused.json["message"]


def test_a_streaming_view_sets_no_limit(limits_app):
    body = b"x" * (LARGE * 3)

    for as_chunks in (False, True):
        response = post(limits_app, "/test-streamed", body, as_chunks)
        assert response.json == {"received": len(body)}


def test_unmarked_views_keep_max_content_length(limits_app):
    response = limits_app.post("/test-large-unknown", data=b"x" * (LIMIT + 1))

    assert response.status_code == 413
