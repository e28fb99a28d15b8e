"""The project's words: position labels both ways, G/M/k counts, and checks that name the value and what is allowed."""
import pytest

from common.vocabulary import check_one_of, check_positive, divisors, position_label, segments_of, si_count


def test_position_labels_name_the_ends_and_parse_back_at_a_base_width():
    assert [position_label(s, 16) for s in (1, 4, 16)] == ["regular", "segments=4", "depthwise"]
    assert [segments_of(label, 32) for label in ("regular", "segments=4", "group_width=8", "depthwise")] == [1, 4, 4, 32]
    assert segments_of("group_width=5", 32) is None and segments_of("weird", 32) is None


def test_counts_read_in_three_significant_digits():
    assert [si_count(x) for x in (779_000, 2_340_000, 8_355_355_496, 950)] == ["779k", "2.34M", "8.36G", "950"]


def test_divisors_are_every_segment_count():
    assert divisors(16) == [1, 2, 4, 8, 16] and divisors(7) == [1, 7]


@pytest.mark.parametrize("value", [0, -1, True, 2.5, "3"])
def test_a_non_positive_integer_is_refused_by_name(value):
    with pytest.raises(ValueError, match=r"--epochs=.* is not allowed; expected a positive integer"):
        check_positive("--epochs", value)


def test_a_value_outside_its_choices_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="--backend='cuda' is not allowed; expected one of torch, triton, auto"):
        check_one_of("--backend", "cuda", ("torch", "triton", "auto"))
