"""The shipped classifier: ordering, bounds, calibration shape, uncertainty and task cues."""

from __future__ import annotations

import dataclasses

import pytest

from classifier import Classification, Classifier, RequestClassifier, Task, load_default
from embedding import StaticEmbedder, embed_request
from registry.spec import Tier

EASY = ["hi", "What is the capital of France?", "Thanks, that's all!", "Who wrote Hamlet?"]
HARD = [
    "Prove that for every integer n > 2 the equation $a^n + b^n = c^n$ has no solution in positive integers "
    "a, b, c, and derive the key lemma about elliptic curves step by step with full justification.",
    "Implement a lock-free concurrent hash map in Rust with resizing, explain the memory ordering of every "
    "atomic operation, and prove linearizability. Include benchmarks and tests.\n```rust\nuse std::sync::atomic;\n```",
    "Let $f(x)=\\frac{x^3-3x+1}{x^2+1}$. Find all real $x$ such that $f(f(x)) = x$ and compute "
    "$\\sum_{k=1}^{n} f(k)$ in closed form. Show your work and justify each step.",
]


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return load_default()


def test_clearly_hard_prompts_score_above_clearly_easy_ones(classifier: Classifier) -> None:
    easy = [classifier.classify(_user(t)) for t in EASY]
    hard = [classifier.classify(_user(t)) for t in HARD]
    assert max(c.score for c in easy) < min(c.score for c in hard)
    assert all(c.tier == Tier.SIMPLE for c in easy)
    # short hard prompts are not sure tier 2 or 3: the length prior pulls them down (classifier/README.md)
    assert max(c.tier for c in hard) >= Tier.MODERATE


def test_probabilities_are_a_distribution_and_score_is_their_upper_tail(classifier: Classifier) -> None:
    for text in EASY + HARD + ["", "?" * 5000]:
        result = classifier.classify(_user(text))
        assert sum(result.probabilities) == pytest.approx(1.0)
        assert all(0.0 <= p <= 1.0 for p in result.probabilities)
        assert 0.0 <= result.score <= 1.0
        assert result.score == pytest.approx(result.probabilities[1] + result.probabilities[2])


def test_score_and_tier_move_together(classifier: Classifier) -> None:
    """A higher score never comes with a lower tier or a higher P(tier 1) or a lower P(tier 3)."""
    texts = EASY + HARD + [" ".join(["word"] * n) + "?" for n in (1, 10, 100, 1000)]
    results = sorted((classifier.classify(_user(t)) for t in texts), key=lambda c: c.score)
    assert [c.tier for c in results] == sorted(c.tier for c in results)
    assert [c.probabilities[0] for c in results] == sorted((c.probabilities[0] for c in results), reverse=True)
    assert [c.probabilities[2] for c in results] == sorted(c.probabilities[2] for c in results)


def test_uncertain_follows_the_margin(classifier: Classifier) -> None:
    messages = _user(HARD[0])
    top = max(classifier.classify(messages).probabilities)
    assert not classifier.classify(messages, uncertainty_margin=0.0).uncertain
    assert classifier.classify(messages, uncertainty_margin=1.01).uncertain
    assert classifier.classify(messages, uncertainty_margin=top + 1e-9).uncertain
    assert not classifier.classify(messages, uncertainty_margin=top - 1e-9).uncertain


def test_result_is_frozen(classifier: Classifier) -> None:
    result = classifier.classify(_user("hello"))
    assert isinstance(result, Classification)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.score = 0.0  # type: ignore[misc]


@pytest.mark.parametrize(("text", "task"), [
    ("Translate 'good morning' into French.", Task.TRANSLATION),
    ("Summarize the following article in three bullet points: ...", Task.SUMMARISATION),
    ("Extract every email address from this text: a@b.com, c@d.org", Task.EXTRACTION),
    ("hello there!", Task.CHAT),
    ("Write a Python function that returns the n-th Fibonacci number.\n```python\ndef fib(n):\n```", Task.CODE),
    ("Solve for x: 3x + 7 = 22. What is $x^2$?", Task.MATH),
    ("Prove that there are infinitely many primes.", Task.MATH),
    ("Implement Dijkstra's algorithm in C++ with a binary heap.", Task.CODE),
    ("Write a 500-word blog post about a trip to Hawaii.", Task.CREATIVE),
])
def test_task_types(classifier: Classifier, text: str, task: Task) -> None:
    assert classifier.classify(_user(text)).task == task


def test_load_default_loads_once() -> None:
    assert load_default() is load_default()


def test_classifier_satisfies_the_protocol(classifier: Classifier) -> None:
    implementation: RequestClassifier = classifier
    assert implementation.classify([{"role": "user", "content": "hi"}]).tier == Tier.SIMPLE


def test_the_gateway_embedding_gives_the_same_verdict_as_embedding_the_messages(classifier: Classifier) -> None:
    messages = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hello"},
                {"role": "assistant", "content": "Hi!"}, {"role": "user", "content": HARD[1]}]
    embedding = embed_request(StaticEmbedder.load(), messages)
    assert embedding.turns == 2 and embedding.text == HARD[1]
    assert classifier.classify(messages, embedding=embedding) == classifier.classify(messages)


def test_length_prior_is_the_share_of_shorter_training_prompts(classifier: Classifier) -> None:
    priors = [classifier.classify(_user("word " * n)).length_prior for n in (1, 30, 300, 3000)]
    assert priors == sorted(priors) and priors[0] < 0.05 and priors[-1] > 0.95


def test_explain_names_the_nearest_training_prompts_and_their_outcomes(classifier: Classifier) -> None:
    why = classifier.explain(_user("Complete the assertion: def f(x): return x * 2\nassert f(3) == ??"), k=3)
    assert len(why.neighbours) == 3
    sims = [n.similarity for n in why.neighbours]
    assert sims == sorted(sims, reverse=True) and sims[0] > 0.5
    assert all(" right" in n.outcome or " wrong" in n.outcome or "weak label" in n.outcome for n in why.neighbours)
    assert why.to_dict()["nearest_training_prompts"][0]["family"] == why.neighbours[0].family
    assert 0.0 <= why.score <= 1.0 and 0.0 <= why.length_prior <= 1.0


def test_a_classifier_can_share_the_embedded_training_prompts(classifier: Classifier) -> None:
    """A reloaded artifact explains with the prompts the shipped classifier already embedded."""
    from classifier.model import DEFAULT_ARTIFACT

    other = Classifier.from_file(DEFAULT_ARTIFACT, training_prompts=classifier.training_prompts)
    assert other.neighbours() is classifier.neighbours()
    assert Classifier.from_file(DEFAULT_ARTIFACT).training_prompts is not classifier.training_prompts
