"""Results: the JSON output of one benchmark run on one flavor."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.models.benchmark import Benchmark
from backend.models.claims import HasClaims
from backend.models.core import PkModel
from backend.models.site import Flavor, Site
from backend.models.tags import HasTags
from backend.models.types import JsonDocument, UTCDateTime
from backend.models.uploader import HasUploader


class Result(HasClaims, HasTags, HasUploader, PkModel):
    """One benchmark run: its JSON document, where and when it ran. Immutable but for tags."""

    __tablename__ = "results"
    __table_args__ = (
        Index("ix_results_execution_datetime_id", "execution_datetime", "id"),
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

    def __init__(self, *, flavor: Flavor, **properties: Any) -> None:
        super().__init__(flavor=flavor, site=flavor.site, **properties)
