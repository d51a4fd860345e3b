"""Scenario files shipped with the library (the reference fire, a day of service orders)."""

from pathlib import Path

DIRECTORY = Path(__file__).parent
DONGHU_FIRE = DIRECTORY / "donghu_fire.json"
XIANGYANG_ORDERS = DIRECTORY / "xiangyang_orders.json"
