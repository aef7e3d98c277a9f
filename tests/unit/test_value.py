"""Value: what the records on notice-spool's path take from namedtuple, and no more."""

import pytest

from notice_cli.value import Value


class Point(Value):
    __slots__ = ("x", "y", "label")
    DEFAULTS = {"label": None}


def test_fields_by_position_by_name_and_by_default():
    assert Point(1, 2) == Point(x=1, y=2) == Point(1, y=2, label=None)
    assert Point(1, 2, "a").label == "a"


@pytest.mark.parametrize("make, problem", [
    (lambda: Point(1), "missing the field 'y'"),
    (lambda: Point(1, 2, 3, 4), "takes 3 values, not 4"),
    (lambda: Point(1, 2, z=3), "has no field 'z'"),
    (lambda: Point(1, 2, x=3), "got the field 'x' twice"),
])
def test_a_wrong_construction_says_which_field(make, problem):
    with pytest.raises(TypeError, match=problem):
        make()


def test_a_value_is_immutable_and_replaced_whole():
    point = Point(1, 2)
    with pytest.raises(AttributeError, match="make a new one with _replace"):
        point.x = 5
    assert point._replace(y=7) == Point(1, 7) and point == Point(1, 2)
    assert point._asdict() == {"x": 1, "y": 2, "label": None}


def test_equality_hash_and_repr_go_by_type_and_fields():
    class Other(Value):
        __slots__ = ("x", "y", "label")
        DEFAULTS = {"label": None}

    assert Point(1, 2) != Other(1, 2) and Point(1, 2) != (1, 2, None)
    assert len({Point(1, 2), Point(1, 2), Point(2, 1)}) == 2
    assert repr(Point(1, "b")) == "Point(x=1, y='b', label=None)"
