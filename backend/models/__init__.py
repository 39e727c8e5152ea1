"""The stored resources. Each workflow mixin has its own module: NeedsApprove
(approval.py), HasUploader (uploader.py), HasTags (tags.py), HasClaims (claims.py)."""

from backend.models.approval import ItemStatus, NeedsApprove, pending_submits
from backend.models.artifact import Artifact, ArtifactKind, ArtifactState, Visibility
from backend.models.benchmark import Benchmark
from backend.models.catalogue_version import catalogue_version
from backend.models.claims import Claim, HasClaims
from backend.models.experiment import Experiment, ExperimentConfig, Job, LatencyChunk
from backend.models.result import Result
from backend.models.result_index import result_counts, result_numbers
from backend.models.site import Flavor, Site
from backend.models.tags import HasTags, Tag, results_tags
from backend.models.uploader import HasUploader
from backend.models.user import User

__all__ = [
    "Artifact",
    "ArtifactKind",
    "ArtifactState",
    "Benchmark",
    "Claim",
    "Experiment",
    "ExperimentConfig",
    "Flavor",
    "HasClaims",
    "HasTags",
    "HasUploader",
    "ItemStatus",
    "Job",
    "LatencyChunk",
    "NeedsApprove",
    "Result",
    "Site",
    "Tag",
    "User",
    "Visibility",
    "catalogue_version",
    "pending_submits",
    "result_counts",
    "result_numbers",
    "results_tags",
]
