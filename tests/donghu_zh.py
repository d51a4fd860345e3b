"""The Donghu fire with its people, places and notes in Chinese, as a Chinese community
would record it: the shipped scenario (resilience.scenarios.DONGHU_FIRE) with every text
its staff typed replaced, and nothing else changed, so its review grades, times and
flags are the English one's (tests/test_i18n.py checks that).

Ids, times, roles and the other values the library reads stay as they are.
"""

import json
from typing import Any

from resilience.scenario import Scenario, parse_scenario
from resilience.scenarios import DONGHU_FIRE

CHINESE = {
    "Donghu Community": "东湖社区",
    "Taishan District": "泰山区",
    "Daimiao Subdistrict": "岱庙街道",
    **{f"Grid {n}": f"第{n}网格" for n in range(1, 7)},
    "Grid 3, buildings 28-32": "第3网格28—32号楼",
    "Building 30": "30号楼",
    "Zhang Chuanlian": "张传连",
    "Community office duty desk": "社区办公室值班台",
    "Li (emergency squad, veteran)": "李（应急突击队，退役军人）",
    "Wang (emergency squad, volunteer)": "王（应急突击队，志愿者）",
    "Zhao (emergency squad, police officer)": "赵（应急突击队，民警）",
    "Sun (grid worker, property staff)": "孙（网格员，物业人员）",
    "property management company": "物业公司",
    "Emergency squad": "应急突击队",
    "Sun": "孙",
    "Donghu community office": "东湖社区办公室",
    "Property service centre": "物业服务中心",
    "Donghu health service station": "东湖社区卫生服务站",
    "basement storage room": "地下室储藏室",
    "Thick smoke in the basement; a storage room is judged to be on fire":
        "地下室冒出浓烟，判断为储藏室起火",
    "emergency squad": "应急突击队",
    "bring fire extinguishers": "携带灭火器",
    "phone the building's residents": "电话通知本楼居民",
    "prepare breaching tools": "准备破拆工具",
    "Phoned the households of building 30, unit 1": "已电话通知30号楼1单元各户",
    "Fire extinguishers at the basement door": "灭火器已送到地下室门口",
    "fire extinguisher": "灭火器",
    "Breaching tools ready at the storage room": "破拆工具已在储藏室备妥",
    "bolt cutter": "断线钳",
    "crowbar": "撬棍",
    "break the storage-room lock to find the source": "破拆储藏室门锁以查找火源",
    "storage-room lock, basement of building 30 unit 1": "30号楼1单元地下室储藏室门锁",
    "Smouldering cardboard and an old mattress": "阴燃的纸箱和一张旧床垫",
    "Put out with two fire extinguishers": "用两具灭火器扑灭",
    "Fire out, no spread beyond the storage room": "明火已灭，未蔓延出储藏室",
    "Smoke cleared, residents back, no injuries": "烟雾已散，居民返回，无人受伤",
    "the duty phone log shows the all-clear call at 15:12": "值班电话记录显示15:12报告险情解除",
    "storage-room clutter to be cleared under the grid's safety check":
        "储藏室杂物纳入网格安全检查清理",
    "Replace the storage-room lock broken to reach the fire": "更换灭火时破拆的储藏室门锁",
    "lock repair: the storage-room lock broken with the owner's consent":
        "门锁维修：经业主同意破拆的储藏室门锁",
    "Taishan locksmith": "泰山开锁修锁",
    "Clear basement storage-room clutter in grid 3 and add storage rooms to the grid's "
    "monthly safety check": "清理第3网格地下室储藏室杂物，并将储藏室纳入网格每月安全检查",
    "new lock fitted, two keys handed over": "已换新锁，交付两把钥匙",
    "lock works": "门锁正常",
}
"""What Donghu's staff typed, in English -> as they would type it."""

_TYPED = frozenset({"name", "district", "subdistrict", "affiliation", "description", "team",
                    "task", "equipment", "purpose", "target", "summary", "reason", "note",
                    "details", "action", "comment"})
"""The fields whose text people type (``reason`` and ``action`` are also enum values
elsewhere: only texts in CHINESE are replaced)."""


def _translated(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _translated(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_translated(v, key) for v in value]
    if isinstance(value, str) and key in _TYPED:
        return CHINESE.get(value, value)
    return value


def donghu_in_chinese() -> Scenario:
    """The shipped Donghu scenario with its typed texts in Chinese."""
    data = json.loads(DONGHU_FIRE.read_text(encoding="utf-8"))
    data["actions"] = _translated(data["actions"])
    data["community"] = _translated(data["community"])
    return parse_scenario(json.dumps(data, ensure_ascii=False))
