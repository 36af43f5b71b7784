from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processor.domain.identifiers import (
    Fuel,
    canonical_eui64,
    check_digits_ok,
    fuel_of,
    is_valid_mpan,
    is_valid_mprn,
    mpan_check_digit,
    mprn_check_digits,
)
from processor.errors import InvalidIdentifier


@pytest.mark.parametrize("text", ["90-B3-D5-1F-30-02-00-00", "90b3d51f30020000", " 90:b3:d5:1f:30:02:00:00 "])
def test_eui64_forms_share_one_canonical_form(text):
    assert canonical_eui64(text) == "90-B3-D5-1F-30-02-00-00"


@pytest.mark.parametrize("text", ["", "90-B3-D5-1F-30-02-00", "90B3D51F3002000G", "90B3D51F300200000"])
def test_bad_eui64_is_a_clear_error(text):
    with pytest.raises(InvalidIdentifier, match="not an EUI-64"):
        canonical_eui64(text)


@pytest.mark.parametrize("mpan", ["1200000000020", "2312345678900", "1900033146143", "1217290354420"])
def test_known_valid_mpans(mpan):
    assert is_valid_mpan(mpan)


@pytest.mark.parametrize("mprn", ["3938424403", "3000000103", "9876543209"])
def test_known_valid_mprns(mprn):
    assert is_valid_mprn(mprn)


def test_a_changed_digit_breaks_the_check():
    assert not is_valid_mpan("1200000000021")
    assert not is_valid_mprn("3938424404")
    assert not is_valid_mpan("120000000002")  # 12 digits


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_mpan_check_digit_round_trips(first12):
    assert is_valid_mpan(first12 + str(mpan_check_digit(first12)))


@given(st.text(alphabet="0123456789", min_size=4, max_size=8))
def test_mprn_check_digits_round_trip(body):
    assert is_valid_mprn(body + mprn_check_digits(body))


def test_fuel_from_shape_and_flag_not_drop():
    assert fuel_of("1200000000020") is Fuel.ELECTRICITY
    assert fuel_of("3938424403") is Fuel.GAS
    assert check_digits_ok("1200000000021") is False  # flagged, still a known shape
    with pytest.raises(InvalidIdentifier):
        fuel_of("12345")


def _reference_weighted_sum(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True))


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_mpan_check_digit_matches_the_textbook_sum(first12):
    weights = (3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43)
    assert mpan_check_digit(first12) == _reference_weighted_sum(first12, weights) % 11 % 10


@given(st.text(alphabet="0123456789", min_size=1, max_size=8))
def test_mprn_check_digits_match_the_textbook_sum(body):
    weights = tuple(range(len(body), 0, -1))
    assert mprn_check_digits(body) == f"{_reference_weighted_sum(body, weights) % 11:02d}"


@pytest.mark.parametrize("text", ["١٢٠٠٠٠٠٠٠٠٠٢٠", "12000000000²0", "12000000000x0"])
def test_non_ascii_or_non_digit_characters_are_not_meter_point_numbers(text):
    with pytest.raises(InvalidIdentifier):
        fuel_of(text)
    assert not is_valid_mpan(text)
    with pytest.raises(InvalidIdentifier):
        mpan_check_digit(text[:12])
