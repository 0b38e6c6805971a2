"""Requester names from signatures, sign-offs, fields and call signs."""

from __future__ import annotations

import pytest

from services.parser.requester import find_requester


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("5 cots to Alma.\n\nBest regards,\nLena Vogt\nField Coordinator, Hope Aid", "Lena Vogt"),
        ("5 cots to Alma. Thanks, Omar", "Omar"),
        ("5 cots to Alma. CPL J. Marsh", "CPL J. Marsh"),
        ("1. ITEMS: cots x5\n2. POC: SSG K. Lund, ch 9", "SSG K. Lund"),
        ("NEED 5 COTS AT HERON NOW. VIPER 2 OUT.", "VIPER 2"),
        ("5 cots to Alma - Ana de la Cruz", "Ana de la Cruz"),
        ("hey its cpl okoro at heron, need 5 cots", "cpl okoro"),
        ("5 cots to Alma. No rush.", None),
    ],
)
def test_requester_rules(text: str, name: str | None) -> None:
    """The requester is the signer, not approvers or chatter."""
    assert find_requester(text)[0] == name


def test_a_ranked_name_does_not_run_on_to_the_next_line():
    text = "need 6 pallets of bottled water within 12 hrs. SGT T. BELL\nANSWER: Deliver to FOB X."
    assert find_requester(text)[0] == "SGT T. BELL"
