"""Complexity classifier: a request's messages -> tier, score, calibrated probabilities, task.

Public surface: `Classifier.classify(...)`, `load_default()`, `Classification`, `Task`,
`RequestClassifier` (the one-method protocol), `ArtifactError`. Training and evaluation
(scikit-learn) live in modules imported only by the CLI.
"""

from classifier.artifact import ArtifactError
from classifier.model import Classifier, load_default
from classifier.types import Classification, RequestClassifier, Task

__all__ = ["ArtifactError", "Classification", "Classifier", "RequestClassifier", "Task", "load_default"]
