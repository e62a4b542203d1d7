"""Host speed from several probes: one stray reading never decides."""

from bench.host.drift import disturbed, off_typical, speed_changed, typical_rate


def test_the_host_speed_is_the_median_of_its_probes():
    assert typical_rate([101.0, 204.0, 200.0, 207.0]) == 202.0
    assert typical_rate([]) is None


def test_one_low_probe_is_not_a_change_of_speed_two_in_a_row_are():
    # The fresh clone's TensorFlow window: one probe at 101, every other at 200 to 207.
    assert not speed_changed([101.0, 204.0, 200.0, 207.0, 203.0, 205.0])
    assert speed_changed([204.0, 200.0, 150.0, 152.0, 203.0, 205.0])
    assert not speed_changed([200.0])


def test_a_stretch_is_disturbed_only_when_the_probes_on_both_sides_read_off():
    assert off_typical(150.0, 200.0) and not off_typical(185.0, 200.0)
    assert disturbed(150.0, 160.0, 200.0)
    assert disturbed(250.0, 150.0, 200.0)  # fast then slow: the speed moved during it
    assert not disturbed(150.0, 199.0, 200.0)
