"""The examples run and say what the docs say they say."""

import importlib.util
import sys
from datetime import timedelta
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"


def test_donghu_example_contains_the_fire_within_15_minutes(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    """examples/donghu_fire.py records the fire into SQLite and reports the target met."""
    spec = importlib.util.spec_from_file_location("donghu_fire", EXAMPLES / "donghu_fire.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["donghu_fire"] = module
    try:
        spec.loader.exec_module(module)
        contained = module.main(str(tmp_path / "donghu.db"))
    finally:
        del sys.modules["donghu_fire"]
    assert contained == timedelta(minutes=12)
    assert "target met" in capsys.readouterr().out
    assert (tmp_path / "donghu.db").stat().st_size > 0
