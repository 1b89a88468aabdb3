from vistransfer.config import MOVEMENT_KINDS
from vistransfer.synthesis.records import FIELDS, Kind


def test_kinds_name_the_movements_in_config_order_and_every_other_provenance_once():
    assert [Kind(i).label for i in range(len(MOVEMENT_KINDS))] == list(MOVEMENT_KINDS)
    assert len({int(k) for k in Kind}) == len(Kind)  # no value claimed twice
    assert all(k < Kind.NO_MOVEMENT for k in (Kind.BLEND, Kind.PROBE, Kind.OFFSET, Kind.CONTRAST, Kind.NEIGHBOUR))
    assert FIELDS[-1] == "kind" and FIELDS[0] == "x"
