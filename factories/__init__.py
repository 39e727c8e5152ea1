"""factory-boy factories for every model; they commit, so the API under test sees them.

Times and ids come from callables (LazyFunction), never values computed at import.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import factory
from factory.alchemy import SQLAlchemyModelFactory

from backend.extensions import db
from backend.models import (
    Artifact,
    ArtifactKind,
    Benchmark,
    Claim,
    Experiment,
    Flavor,
    ItemStatus,
    Result,
    Site,
    Tag,
    User,
)

DEFAULT_ISSUER = "https://issuer.example.org"


class BaseFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"


class UserFactory(BaseFactory):
    class Meta:
        model = User

    sub = factory.LazyFunction(lambda: str(uuid.uuid4()))
    iss = DEFAULT_ISSUER
    email = factory.Sequence(lambda n: f"user{n}@example.org")


class SiteFactory(BaseFactory):
    class Meta:
        model = Site

    name = factory.Sequence(lambda n: f"SITE-{n}")
    address = factory.Sequence(lambda n: f"site{n}.example.org")
    description = "A cloud site"
    status = ItemStatus.approved
    uploader = factory.SubFactory(UserFactory)


class FlavorFactory(BaseFactory):
    class Meta:
        model = Flavor

    name = factory.Sequence(lambda n: f"m1.flavor{n}")
    description = "A VM template"
    status = ItemStatus.approved
    site = factory.SubFactory(SiteFactory)
    uploader = factory.SubFactory(UserFactory)


class BenchmarkFactory(BaseFactory):
    class Meta:
        model = Benchmark

    docker_image = factory.Sequence(lambda n: f"example/benchmark-{n}")
    docker_tag = "1.0"
    url = "https://example.org/benchmark"
    json_schema = factory.LazyFunction(dict)
    description = "A benchmark"
    status = ItemStatus.approved
    uploader = factory.SubFactory(UserFactory)


class TagFactory(BaseFactory):
    class Meta:
        model = Tag

    name = factory.Sequence(lambda n: f"tag-{n}")
    description = "A label"


class ResultFactory(BaseFactory):
    class Meta:
        model = Result

    execution_datetime = factory.LazyFunction(lambda: datetime.now(UTC) - timedelta(days=1))
    json = factory.LazyFunction(lambda: {"result": {"score": 1.0}})
    benchmark = factory.SubFactory(BenchmarkFactory)
    flavor = factory.SubFactory(FlavorFactory)
    uploader = factory.SubFactory(UserFactory)

    @factory.post_generation
    def tags(self, create, extracted, **kwargs):
        if extracted:
            self.tags.extend(extracted)
            if create:
                db.session.commit()


class ExperimentFactory(BaseFactory):
    """An experiment without jobs (post latencies through the API: they need statistics)."""

    class Meta:
        model = Experiment

    experiment_id = factory.Sequence(lambda n: f"experiment-{n}")
    uploader = factory.SubFactory(UserFactory)


class ClaimFactory(BaseFactory):
    """A claim on a result; like a claim made through the API, it hides the result."""

    class Meta:
        model = Claim

    message = "This result looks wrong"
    resource = factory.SubFactory(ResultFactory)
    uploader = factory.SubFactory(UserFactory)
    status = ItemStatus.on_review

    @factory.post_generation
    def hide_result(self, create, extracted, **kwargs):
        self.resource.hidden = True
        if create:
            db.session.commit()


class ArtifactFactory(BaseFactory):
    """An artifact's row; its bytes are not in any store (upload through the API for that)."""

    class Meta:
        model = Artifact

    kind = ArtifactKind.data
    name = factory.Sequence(lambda n: f"artifact-{n}.bin")
    description = "An artifact"
    properties = factory.LazyFunction(dict)
    size = 3
    sha256 = factory.LazyFunction(lambda: hashlib.sha256(uuid.uuid4().bytes).hexdigest())
    blob_key = factory.LazyAttribute(lambda artifact: artifact.sha256)
    uploader = factory.SubFactory(UserFactory)
