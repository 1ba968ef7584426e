"""Pairs written for Turnout (not from any data set): near misses a cache must not serve, and
paraphrases it should. Used by `cache_quality.py`; free of third-party terms."""

from __future__ import annotations

NEAR_MISSES: tuple[tuple[str, str], ...] = (
    ("How do I convert Celsius to Fahrenheit?", "How do I convert Fahrenheit to Celsius?"),
    ("What is 15% of 80?", "What is 15% of 90?"),
    ("How do I convert USD to EUR?", "How do I convert EUR to USD?"),
    ("Is Python faster than Java?", "Is Java faster than Python?"),
    ("What are the benefits of drinking coffee?", "What are the risks of drinking coffee?"),
    ("How do I install Docker on Ubuntu?", "How do I install Docker on Windows?"),
    ("Why should I not use global variables?", "Why should I use global variables?"),
    ("Write a haiku about the sea", "Write a haiku about the mountains"),
    ("Translate 'good morning' into Spanish", "Translate 'good night' into Spanish"),
    ("What is the capital of Australia?", "What is the capital of Austria?"),
    ("How do I encrypt a file with GPG?", "How do I decrypt a file with GPG?"),
    ("What happened in 1969?", "What happened in 1968?"),
    ("How many legs does a spider have?", "How many legs does an insect have?"),
    ("Who was the first president of the United States?", "Who was the second president of the United States?"),
    ("How do I sort a list in ascending order in Python?", "How do I sort a list in descending order in Python?"),
    ("Can dogs eat grapes?", "Can cats eat grapes?"),
    ("What is the time complexity of quicksort?", "What is the time complexity of mergesort?"),
    ("How do I delete a git branch locally?", "How do I delete a git branch remotely?"),
    ("When did World War II start?", "When did World War II end?"),
    ("How do I merge two dictionaries in Python?", "How do I merge two lists in Python?"),
    ("What is the difference between TCP and UDP?", "What is the difference between HTTP and HTTPS?"),
    ("How do I make my website load faster?", "How do I make my website load slower?"),
    ("Is it legal to drive barefoot in California?", "Is it legal to drive barefoot in Texas?"),
    ("Summarize the plot of Hamlet", "Summarize the plot of Macbeth"),
    ("How much is 2 to the power of 10?", "How much is 10 to the power of 2?"),
)

PARAPHRASES: tuple[tuple[str, str], ...] = (
    ("How do I reverse a list in Python?", "How can I reverse a list in Python?"),
    ("What's the boiling point of water?", "What is the boiling point of water?"),
    ("How can I improve my sleep quality?", "How do I improve the quality of my sleep?"),
    ("What is the capital of France?", "What's the capital city of France?"),
    ("Explain what a REST API is", "Can you explain what a REST API is?"),
    ("How do I center a div in CSS?", "How can I center a div using CSS?"),
    ("What are some tips for learning Spanish quickly?", "What are some tips to learn Spanish fast?"),
    ("How long should I boil an egg?", "How long do I need to boil an egg?"),
    ("What does HTTP 404 mean?", "What does a 404 HTTP error mean?"),
    ("How many miles is 10 km?", "How many miles are in 10 km?"),
    ("what is the speed of light", "What is the speed of light?"),
    ("How do I undo the last git commit?", "How can I undo my last git commit?"),
)
