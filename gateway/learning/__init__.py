"""A router that learns from its own traffic: feedback, judged shadow samples, outcome rows shared by
every replica through Redis, online blending with the cold-start score, threshold calibration.

Public surface: `build_learner`, `Learner`, `LearningPolicy`. Guide: "Learning from traffic" in README.md.
"""

from gateway.learning.build import build_learner
from gateway.learning.config import LearningPolicy
from gateway.learning.learner import Learner

__all__ = ["Learner", "LearningPolicy", "build_learner"]
