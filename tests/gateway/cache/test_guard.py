from __future__ import annotations

import pytest

from gateway.cache.guard import Guard, guard_rejects


@pytest.mark.parametrize(("query", "cached", "reason"), [
    ("How do I convert Celsius to Fahrenheit?", "How do I convert Fahrenheit to Celsius?", "order"),
    ("Is Alice older than Bob?", "Is Bob older than Alice?", "order"),
    ("What is 17x23?", "What is 17x24?", "numbers"),
    ("What is 10 divided by 2?", "What is 2 divided by 10?", "numbers"),
    ("Is there a flight with three stops?", "Is there a flight with two stops?", "numbers"),
    ('What does "foo" mean in Python?', 'What does "bar" mean in Python?', "quoted"),
    ("Why is the sky blue?", "Why isn't the sky blue?", "negation"),
    ("Which foods are healthy?", "Which foods are not healthy?", "negation"),
    ("How can I increase my heart rate?", "How can I decrease my heart rate?", "opposite"),
    ("What are the advantages of Rust?", "What are the disadvantages of Rust?", "opposite"),
    ("What is the best gift you have ever received?", "What is the best gift you have ever given?", "opposite"),
    ("Who are the greatest first basemen?", "Who are the greatest second basemen?", "numbers"),
    ("Which rehab center is near Madison County GA?", "Which rehab center is near Madison County IN?", "names"),
    ("Is there a rehab center in San Mateo County?", "Is there a rehab center in San Francisco County?", "names"),
    ("How will Game of Thrones end?", "When will Game of Thrones end?", "question"),
    ("Sort the list in increasing order", "Sort the list in decreasing order", "opposite"),
    ("Why is my bag getting heavier?", "Why is my bag getting lighter?", "opposite"),
    ("Is it safe to swim here?", "Is it unsafe to swim here?", "negation"),
    ("Is this move legal?", "Is this move illegal?", "opposite"),
    ("Which paints are toxic?", "Which paints are non-toxic?", "negation"),
    ("Tips for careful packing", "Tips for careless packing", "negation"),
    ("Is the pattern symmetrical?", "Is the pattern asymmetrical?", "negation"),
    ("How many miles are in 10 km?", "How many km are in 10 miles?", "units"),
    ("How long is a 5 km run?", "How long is a 5 mile run?", "units"),
    ("What is 30 degrees Celsius in Fahrenheit?", "What is 30 degrees Fahrenheit in Celsius?", "units"),
    ("Did Alice call Bob?", "Did Bob call Alice?", "order"),
    ("Why does the dog chase the cat?", "Why does the cat chase the dog?", "order"),
    ("Can chemistry graduates apply for software engineering?",
     "Can software engineering graduates apply for chemistry?", "order"),  # runs of words trading places
    ("Should I move from New York City to Paris?", "Should I move from Paris to New York City?", "order"),
    ("How does DNA split?", "Why does DNA split?", "question"),
    ("Is marriage important in life?", "Why is marriage important in life?", "question"),
    ("Where can I buy an Echo Dot in India?", "Where can I buy an Echo Dot in Delhi, India?", "names"),
    ("How are teleology and deontology similar?", "How do teleology and deontology differ?", "opposite"),
])
def test_guard_rejects(query: str, cached: str, reason: str) -> None:
    assert guard_rejects(query, cached) == reason


@pytest.mark.parametrize(("query", "cached"), [
    ("How can I lose weight fast?", "What is the quickest way to lose weight?"),
    ("What is the capital of France?", "what's the capital of france"),
    ("How do I learn Python in 30 days?", "How can I learn Python within 30 days?"),
    ("Why is the sky blue?", "What makes the sky look blue?"),
    ("Are mediums real or not?", "Are mediums real?"),  # "or not" is no negation
    ("How do you define 'life'?", "How can you define life?"),  # a quote may appear unquoted
    ("Which laptop is best around 50k?", "Which laptop is best around 50,000?"),
    ("Is a 5 year old too young for school?", "Is five year old too young for school?"),
    ("What are Raghuram Rajan's views on demonetization?", "What is the view of Raghuram Rajan on demonetization?"),
    ("How do I learn Python?", "What is the best way to learn python?"),
    ("Convert 5 kg to pounds", "How many pounds is 5 kg?"),
    ("How do I improve my sleep quality?", "How do I improve the quality of my sleep?"),
    ("Is it safe to eat raw eggs?", "Is eating raw eggs safe?"),
    ("Ahead of the meeting, what should I read?", "What should I read ahead of the meeting?"),
    ("For beginners, which Python book is best?", "Which Python book is best for beginners?"),
    ("Unifi official Rob O'Neill said: the gloves are off.", "The gloves are off, said Unifi official Rob O'Neill."),
])
def test_guard_lets_paraphrases_through(query: str, cached: str) -> None:
    assert guard_rejects(query, cached) is None



def test_the_guard_that_remembers_facts_gives_the_plain_verdicts() -> None:
    texts = ["How do I convert Celsius to Fahrenheit?", "How do I convert Fahrenheit to Celsius?",
             "Is it safe to swim here?", "Is it unsafe to swim here?", "Is it safe to swim here today?",
             "How does DNA split?", "Why does DNA split?", "What is 17x23?", "What is 17x24?"]
    guard = Guard(remember=3)  # fewer than the texts: remembered, forgotten and computed again
    pairs = [(q, c) for q in texts for c in texts] * 2
    assert [guard.rejects(q, c) for q, c in pairs] == [guard_rejects(q, c) for q, c in pairs]
