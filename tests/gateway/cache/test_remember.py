from gateway.cache.remember import Remembered


def test_the_least_recently_used_text_is_forgotten_first() -> None:
    known: Remembered[int] = Remembered(2)
    known.put("a", 1)
    known.put("b", 2)
    assert known.get("a") == 1  # "a" used last: "b" goes next
    known.put("c", 3)
    assert known.get("b") is None
    assert (known.get("a"), known.get("c")) == (1, 3)
