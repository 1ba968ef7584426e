"""The `classifier:` section of the policy file: which learned-router artifact scores the aliases.

    classifier:
      artifact: artifacts/retrained.npz     # relative to the policy file's directory
      sha256: 3f1c...                       # optional: else the `<artifact>.sha256` written beside it

Without the section (or without `artifact`) the shipped artifact serves. The artifact is loaded and
verified when the policy is built, so a hot reload that names a missing file or a file whose sha256
differs is refused with this section's YAML path, and the artifact already loaded keeps serving.
A new artifact is picked up by a policy edit (a new path or sha256): the file alone is not watched.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.yamlpath import ConfigError, ConfigIssue

if TYPE_CHECKING:
    from classifier import Classifier
    from classifier.neighbours import TrainingPrompts


class ClassifierPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    artifact: Path | None = Field(None, description="A classifier artifact (.npz, `turnout classifier train "
                                  "--output`) to serve instead of the shipped one; relative to the policy file.")
    sha256: str | None = Field(None, pattern=r"^[0-9a-fA-F]{64}$", description="The artifact's expected sha256 "
                               "(default: the one recorded beside it in `<artifact>.sha256`).")

    @model_validator(mode="after")
    def _sha_needs_artifact(self) -> ClassifierPolicy:
        if self.sha256 is not None and self.artifact is None:
            raise ValueError("sha256 needs an artifact (the shipped artifact is verified by its own record)")
        return self


def load_classifier(section: ClassifierPolicy, policy_path: Path, *,
                    training_prompts: TrainingPrompts | None = None) -> Classifier | None:
    """The artifact the section names, loaded and verified (None: the shipped one serves); it explains
    with `training_prompts` when given (the shipped classifier's, already embedded).

    Raises `ConfigError` naming `classifier.artifact` or `classifier.sha256` when it cannot be used."""
    if section.artifact is None:
        return None
    from classifier import Classifier
    from classifier.artifact import ArtifactError

    path = section.artifact if section.artifact.is_absolute() else policy_path.parent / section.artifact
    try:
        return Classifier.from_file(path, expected_sha256=section.sha256, training_prompts=training_prompts)
    except ArtifactError as exc:
        key = "sha256" if section.sha256 is not None and " has sha256 " in str(exc) else "artifact"
        raise ConfigError(str(policy_path), [ConfigIssue(("classifier", key), None, str(exc))]) from None
