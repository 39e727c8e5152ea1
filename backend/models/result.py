"""Results: the JSON output of one benchmark run on one flavor."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Uuid, text
from sqlalchemy.orm import Mapped, joinedload, lazyload, mapped_column, relationship

from backend.dialects import JsonDocument
from backend.errors import InvalidState, SchemaViolation
from backend.json_limits import RESULT_MAX_DEPTH, deeper_than
from backend.models.benchmark import Benchmark
from backend.models.claims import HasClaims
from backend.models.core import PkModel
from backend.models.site import Flavor, Site
from backend.models.tags import HasTags, Tag
from backend.models.types import UTCDateTime
from backend.models.uploader import HasUploader
from backend.models.user import User
from backend.result_finding.flatten import document_shape


class Result(HasClaims, HasTags, HasUploader, PkModel):
    """One benchmark run: its JSON document, where and when it ran. Immutable but for tags."""

    __tablename__ = "results"
    __table_args__ = (
        # Lists show visible results only: a deep page is an index-only walk of this one.
        Index(
            "ix_results_execution_datetime_id",
            "execution_datetime",
            "id",
            postgresql_where=text("NOT hidden"),
            sqlite_where=text("NOT hidden"),
        ),
        Index(
            "ix_results_benchmark_id_execution_datetime_id",
            "benchmark_id",
            "execution_datetime",
            "id",
        ),
        Index("ix_results_site_id_execution_datetime_id", "site_id", "execution_datetime", "id"),
        Index(
            "ix_results_flavor_id_execution_datetime_id", "flavor_id", "execution_datetime", "id"
        ),
    )
    resource_type = "result"

    execution_datetime: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    json: Mapped[Any] = mapped_column(JsonDocument, nullable=False)
    benchmark_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("benchmarks.id", ondelete="RESTRICT"), nullable=False
    )
    # The site is the flavor's; it is stored too so that results can be filtered and
    # sorted by site through an index.
    site_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("sites.id", ondelete="RESTRICT"), nullable=False
    )
    flavor_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("flavors.id", ondelete="RESTRICT"), nullable=False
    )
    benchmark: Mapped[Benchmark] = relationship(lazy="joined", innerjoin=True)
    site: Mapped[Site] = relationship(lazy="joined", innerjoin=True)
    flavor: Mapped[Flavor] = relationship(lazy="joined", innerjoin=True)

    #: ``document_shape`` of the document, so that exports need not read every document to
    #: know their columns; None for results stored before it was kept (migration 0010).
    json_shape: Mapped[str | None] = mapped_column(String(32), nullable=True)

    def __init__(self, *, flavor: Flavor, **properties: Any) -> None:
        if "json" in properties:
            properties.setdefault("json_shape", document_shape(properties["json"]))
        super().__init__(flavor=flavor, site=flavor.site, **properties)

    @classmethod
    def upload(
        cls,
        *,
        benchmark_id: uuid.UUID,
        flavor_id: uuid.UUID,
        tags_ids: list[uuid.UUID],
        execution_datetime: datetime,
        json: Any,
        uploader: User,
    ) -> Result:
        """Check a submitted result against the catalogue and its benchmark's schema, and
        add it to the session.

        Unknown benchmark, flavor or tag: NotFound; benchmark or flavor (or its site) not
        approved yet: InvalidState; document not matching the schema: SchemaViolation.
        """
        # Only what the checks read: the models' default eager loads join every uploader.
        benchmark = Benchmark.get_or_404(benchmark_id, options=[lazyload("*")])
        flavor = Flavor.get_or_404(
            flavor_id, options=[joinedload(Flavor.site).lazyload("*"), lazyload("*")]
        )
        cls.check_upload(benchmark, flavor, json)
        return cls.create(
            benchmark=benchmark,
            flavor=flavor,
            tags=Tag.get_all_or_404(tags_ids),
            execution_datetime=execution_datetime,
            json=json,
            uploader=uploader,
        )

    @staticmethod
    def check_upload(benchmark: Benchmark, flavor: Flavor, json: Any) -> None:
        """Raise unless ``json`` may be stored as a result of ``benchmark`` on ``flavor``.

        The one set of rules for every way in (the API and ``flask import``): benchmark,
        flavor and its site approved (else InvalidState), and a JSON object nested at most
        ``RESULT_MAX_DEPTH`` levels and matching the benchmark's schema (else
        SchemaViolation).
        """
        for item in (benchmark, flavor, flavor.site):
            if not item.is_approved:
                raise InvalidState(
                    f"The {item.resource_type} {item.id} is still on review; results can be "
                    "uploaded once an admin approves it."
                )
        if not isinstance(json, dict):
            raise SchemaViolation("The result must be a JSON object.")
        if deeper_than(json, RESULT_MAX_DEPTH):
            raise SchemaViolation(
                f"The result is nested more than {RESULT_MAX_DEPTH} levels deep; at most "
                f"{RESULT_MAX_DEPTH} levels of objects and arrays are accepted."
            )
        benchmark.validate_result(json)
