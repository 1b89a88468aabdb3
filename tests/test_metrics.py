"""The difficulty metrics of Section 4.2.1 on hand-made label tables, and their invariants."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vistransfer.errors import VistransferError
from vistransfer.metrics import admissibility, agreement, difficulty, fooling_examples, fraction, hidden_messages, majority_other


def test_two_members_must_pick_the_same_wrong_class():
    h = np.array([0, 0, 0, 0])
    S = np.array([[1, 1, 0, 2], [1, 2, 0, 2]])
    # ex 0: both say 1 -> fooling; ex 1: both wrong but different -> not; ex 2: both right; ex 3: both say 2
    assert fooling_examples(h, S).tolist() == [True, False, False, True]


def test_majority_is_strictly_more_than_half():
    h = np.array([0, 0])
    S = np.array([[1, 1], [1, 2], [0, 2], [0, 2]])  # N = 4: ex 0 has 2 votes for 1 (= N/2, not more)
    assert fooling_examples(h, S).tolist() == [False, True]


def test_three_members_two_agree_on_another_class():
    h = np.array([3, 3, 3])
    S = {"a": [5, 5, 3], "b": [5, 4, 3], "c": [3, 6, 3]}
    assert fooling_examples(h, S).tolist() == [True, False, False]


def test_hidden_message_needs_h_and_hs_to_agree():
    h = np.array([0, 0, 1])
    hs = np.array([0, 1, 1])
    S = np.array([[2, 2, 2], [2, 2, 1]])
    assert fooling_examples(h, S).tolist() == [True, True, False]
    assert hidden_messages(h, hs, S).tolist() == [True, False, False]


def test_a_tie_between_two_wrong_classes_is_no_majority():
    h = np.array([0])
    S = np.array([[1], [1], [2], [2]])
    assert not majority_other(h, S)[0]


def test_bad_input_is_named():
    with pytest.raises(VistransferError, match="same examples"):
        fooling_examples([0, 1], [[0, 1, 2]])
    with pytest.raises(VistransferError, match="integer class labels"):
        fooling_examples([0.5, 1.0], [[0, 1]])
    with pytest.raises(VistransferError, match="N >= 1"):
        fooling_examples([0, 1], np.zeros((0, 2), int))


def test_fraction_interval_brackets_the_value():
    f = fraction(np.arange(100) < 20)
    assert f.value == pytest.approx(0.2) and f.low < 0.2 < f.high and f.method == "bootstrap-bca"
    assert 0.1 < f.low and f.high < 0.3
    none = fraction(np.zeros(100, bool))
    assert none.value == 0 and none.low == 0 and 0.02 < none.high < 0.05 and none.method == "clopper-pearson"


def test_admissibility_flags_and_difficulty_refuses():
    y = np.array([0, 1, 2, 3])
    adm = admissibility({"good": [0, 1, 2, 3], "weak": [0, 1, 0, 0]}, y, threshold=0.6)
    assert adm.scores == {"good": 1.0, "weak": 0.5} and adm.failing == ("weak",) and not adm.ok
    S = {"good": [0, 1, 2, 3], "weak": [0, 1, 0, 0]}
    with pytest.raises(VistransferError, match="weak"):
        difficulty(y, y, S, admissible=adm)
    flagged = difficulty(y, y, S, admissible=adm, strict=False)
    assert flagged["admissibility"]["ok"] is False and flagged["fooling_example"]["value"] == 0.0


labels = st.integers(min_value=0, max_value=4)


@st.composite
def tables(draw):
    m = draw(st.integers(1, 30))
    n = draw(st.integers(1, 5))
    h = np.array(draw(st.lists(labels, min_size=m, max_size=m)))
    hs = np.array(draw(st.lists(labels, min_size=m, max_size=m)))
    S = np.array([draw(st.lists(labels, min_size=m, max_size=m)) for _ in range(n)])
    return h, hs, S


@settings(max_examples=200, deadline=None)
@given(tables())
def test_a_hidden_message_is_always_a_fooling_example(t):
    h, hs, S = t
    assert not (hidden_messages(h, hs, S) & ~fooling_examples(h, S)).any()


@settings(max_examples=200, deadline=None)
@given(tables(), st.permutations(range(5)), st.randoms(use_true_random=False))
def test_invariant_to_renaming_classes_and_reordering_members(t, perm, rnd):
    h, hs, S = t
    p = np.array(perm)
    order = list(range(len(S)))
    rnd.shuffle(order)
    assert (fooling_examples(p[h], p[S][order]) == fooling_examples(h, S)).all()
    assert (hidden_messages(p[h], p[hs], p[S][order]) == hidden_messages(h, hs, S)).all()


@settings(max_examples=100, deadline=None)
@given(tables())
def test_a_set_that_agrees_with_h_is_never_fooled(t):
    h, _, S = t
    assert not fooling_examples(h, np.tile(h, (len(S), 1))).any()


@settings(max_examples=100, deadline=None)
@given(tables())
def test_one_member_is_fooled_exactly_where_it_disagrees(t):
    h, _, S = t
    assert (fooling_examples(h, S[:1]) == (S[0] != h)).all()
    assert agreement(h, S[0]) == pytest.approx(1 - fooling_examples(h, S[:1]).mean())


def test_docstring_example_runs():
    import doctest

    import vistransfer.metrics

    assert doctest.testmod(vistransfer.metrics).failed == 0
