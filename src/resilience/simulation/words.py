"""The words a simulated district is written in: names, descriptions, reasons.

These are the history's data (what its people typed into the record), not the
library's messages, so they are not translated. They live here, one place, so the
planners read as what happens and not as text.
"""

from resilience.domain.values import ActionKind, IncidentType, ProviderKind, ZoneType

DISTRICT = "Taishan District (simulated, seed {seed})"
"""The district's name; the seed is part of it, so two seeds' districts have other
community ids and can share one store."""
SUBDISTRICTS = ("Daimiao", "Caiyuan", "Taiqian", "Shanghao", "Xujiazhuang", "Beijiju",
                "Qiujiazhuang", "Shengzhuang", "Xiagang", "Dianyu", "Huangqiangou",
                "Fangcun")
COMMUNITIES = ("Donghu", "Xiangyang", "Hongmen", "Tianwai", "Yingbin", "Wangyue", "Qingnian",
               "Nanguan", "Beiguan", "Xinhua", "Taishan", "Dongyue", "Wenhua", "Minsheng",
               "Heping", "Guangming", "Yucai", "Jinxing", "Luyuan", "Shuangqiao")
SURNAMES = ("Zhang", "Wang", "Li", "Zhao", "Liu", "Chen", "Yang", "Huang", "Zhou", "Wu",
            "Xu", "Sun", "Ma", "Zhu", "Hu", "Guo", "He", "Lin", "Gao", "Luo")
GIVEN_NAMES = ("Chuanlian", "Wei", "Fang", "Min", "Jing", "Lei", "Qiang", "Yan", "Jun",
               "Hua", "Ping", "Gang", "Xiulan", "Guiying", "Yumei", "Jianguo", "Zhiqiang",
               "Shuzhen", "Haiyan", "Dongmei", "Lijuan", "Xiaoming", "Chunhua", "Baoshan")
SKILLS = {"squad": ("first aid", "firefighting", "veteran", "police officer", "doctor",
                    "nurse", "electrician"),
          "volunteer": ("retired party member", "teacher", "care visits", "translation")}
ZONES = (ZoneType.NEW_BUILD, ZoneType.OLD_ESTATE, ZoneType.COMMERCIAL,
         ZoneType.INSTITUTIONAL)
PROPERTY_COMPANY = "Red Property Services"
"""The property company whose staff serve as part-time grid workers."""
RELIEVED = ("moved to another post", "retired", "moved away", "stepped down")
SQUAD_TEAM = "emergency squad"
VOLUNTEER_TEAM = "Red Grid volunteers"
VOLUNTEER_TASK = "keep residents away"

# Incidents: what is reported, what responders do, what they find.
REPORTED: dict[IncidentType, tuple[str, ...]] = {
    IncidentType.FIRE: ("thick smoke from the basement storage room",
                        "an e-bike battery burning in the stairwell",
                        "smoke from a kitchen window", "rubbish bins on fire"),
    IncidentType.MEDICAL: ("an elderly resident collapsed at home",
                           "a fall on the stairs", "a resident short of breath"),
    IncidentType.GAS: ("smell of gas in the stairwell", "a gas alarm sounding in a flat"),
    IncidentType.FLOOD: ("a burst pipe flooding the basement",
                         "rainwater entering ground-floor flats", "a blocked drain overflowing"),
    IncidentType.SECURITY: ("a stranger trying door handles", "a broken lock on the unit door",
                            "a quarrel between neighbours"),
    IncidentType.INFRASTRUCTURE: ("a lift stuck with residents inside",
                                  "a power cut in the building",
                                  "a loose panel over the entrance"),
    IncidentType.OTHER: ("a fallen tree blocking the path", "a lost child near the gate"),
}
ACTIONS: dict[IncidentType, tuple[tuple[ActionKind, str, tuple[str, ...]], ...]] = {
    IncidentType.FIRE: (
        (ActionKind.EQUIPMENT_BROUGHT, "fire extinguishers brought", ("fire extinguisher",)),
        (ActionKind.RESIDENTS_NOTIFIED, "residents of the unit phoned", ()),
        (ActionKind.EQUIPMENT_PREPARED, "breaching tools prepared", ("breaching tools",)),
        (ActionKind.SUPPRESSION, "flames put out", ("fire extinguisher",)),
        (ActionKind.EVACUATION, "residents led out of the unit", ())),
    IncidentType.MEDICAL: (
        (ActionKind.FIRST_AID, "first aid given", ("first-aid kit",)),
        (ActionKind.RESIDENTS_NOTIFIED, "family phoned", ()),
        (ActionKind.OTHER, "ambulance met at the gate", ())),
    IncidentType.GAS: (
        (ActionKind.UTILITIES_ISOLATED, "gas shut off at the valve", ("valve key",)),
        (ActionKind.EVACUATION, "residents led out of the unit", ()),
        (ActionKind.RESIDENTS_NOTIFIED, "residents told not to use switches", ())),
    IncidentType.FLOOD: (
        (ActionKind.UTILITIES_ISOLATED, "water main shut off", ("valve key",)),
        (ActionKind.EQUIPMENT_BROUGHT, "pumps and sandbags brought", ("pump", "sandbags")),
        (ActionKind.RESIDENTS_NOTIFIED, "ground-floor residents warned", ())),
    IncidentType.SECURITY: (
        (ActionKind.RESIDENTS_NOTIFIED, "residents of the unit warned", ()),
        (ActionKind.OTHER, "police called", ())),
    IncidentType.INFRASTRUCTURE: (
        (ActionKind.UTILITIES_ISOLATED, "power to the lift isolated", ()),
        (ActionKind.RESIDENTS_NOTIFIED, "residents told of the outage", ()),
        (ActionKind.OTHER, "maintenance company called", ())),
    IncidentType.OTHER: (
        (ActionKind.OTHER, "area cordoned off", ("cones",)),
        (ActionKind.RESIDENTS_NOTIFIED, "residents told", ())),
}
SOURCES: dict[IncidentType, tuple[str, ...]] = {
    IncidentType.FIRE: ("storage room: an e-bike charging", "storage room: old cardboard",
                        "kitchen: a pan left on the stove"),
    IncidentType.GAS: ("a loose valve in the kitchen", "a cracked hose to the stove"),
    IncidentType.FLOOD: ("a burst pipe in the basement", "a blocked roof drain"),
    IncidentType.INFRASTRUCTURE: ("a tripped breaker", "a worn lift cable"),
}
CONTAINED = {IncidentType.FIRE: "fire out", IncidentType.MEDICAL: "patient stable",
             IncidentType.GAS: "gas off, flat aired", IncidentType.FLOOD: "water stopped"}
CONSENT_PURPOSE = "break the storage-room lock to find the source"
REFUSED = ("the owner wants to come back first", "")
EXIGENT = ("smoke spreading and the owner unreachable", "gas alarm and nobody answering")
FORCED = ("storage-room lock", "door of the flat", "basement door")
RESOLVED = ("all clear", "handed over to the property company", "residents back home",
            "ambulance took the patient")
FALSE_ALARM = ("nothing found", "steam from a kitchen, not smoke", "alarm tested by a resident")
DUPLICATE = "the same incident reported by a neighbour"
REOPENED = ("flared up again", "water back in the basement", "smell of gas again")
NOTES = ("neighbours informed", "property company told", "photos taken for the record",
         "resident's family arrived")
LATE_NOTE = "entered from the paper log"
CORRECTED_DETECTION = ("CCTV shows the smoke earlier", "the caller saw it earlier")
CORRECTED_ACK = "checked against the call log"
CORRECTED_ARRIVAL = "checked against the responder's phone"
CORRECTED_CONTAINED = "confirmed with the squad leader"
CORRECTED_DETAILS = ("reported by a neighbour, not the resident",
                     "the basement of the next unit, not this one")
DETAILS_REASON = "checked with the reporter"
DRILL = "fire drill: smoke machine in the basement"
COMMANDER_TASK = "lead the response"
IMPROVEMENTS = ("keep storage-room keys at the grid office",
                "check e-bike charging in every basement",
                "train two more squad members in first aid",
                "fix the unit door entry phone", "update the care cards' numbers")
IMPROVEMENT_DONE = ("done and checked", "checked by the grid leader")
IMPROVEMENT_CANCELLED = "replaced by the district's own programme"
RECOVERY_PURPOSE = "repair the broken lock"
RECOVERY_DETAILS = "replace the lock broken during the response"

# Service orders: who fulfils each category, and what residents say.
PROVIDERS: dict[str, tuple[tuple[ProviderKind, str, str], ...]] = {
    "health": ((ProviderKind.ALLIANCE_MEMBER, "p-clinic", "Taishan community clinic"),
               (ProviderKind.SOCIAL_ORGANISATION, "p-care", "Sunshine care association")),
    "meals": ((ProviderKind.SOCIAL_ORGANISATION, "p-canteen", "Elderly canteen"),
              (ProviderKind.SOCIAL_ORGANISATION, "p-meals", "Neighbourhood meal helpers")),
    "skills": ((ProviderKind.SOCIAL_ORGANISATION, "p-school", "Seniors' school"),
               (ProviderKind.GRID_WORKER, "p-grid", "Grid workers")),
    "home": ((ProviderKind.PROPERTY_COMPANY, "p-property", PROPERTY_COMPANY),
             (ProviderKind.GRID_WORKER, "p-grid", "Grid workers")),
    "professional": ((ProviderKind.ALLIANCE_MEMBER, "p-law", "Xiangyang 360: law firm"),
                     (ProviderKind.ALLIANCE_MEMBER, "p-counsel", "Xiangyang 360: counsellors")),
}
ORDER_DETAILS = ("", "", "please call before coming", "mornings only", "for my mother")
REJECTED = ("out of the community's scope", "a duplicate of an earlier order")
CANCELLED = ("no longer needed", "a relative helped instead")
NOT_FIXED = ("part unavailable", "resident not at home", "needs a specialist")
ORDER_REOPENED = ("still broken", "nobody came in the end", "not what was asked for")
ORDER_NOTES = ("resident called to ask", "provider running late")
ORDER_LATE = "placed by phone earlier"
RATED = ("", "", "very helpful", "came late", "thank you")

# Activities: (title, category, typical participants).
ACTIVITIES = (("Health talk", "health", 40), ("Fire drill for residents", "safety", 80),
              ("Lunch for elderly residents", "meals", 60), ("Smartphone class", "skills", 20),
              ("Flood preparedness briefing", "safety", 50),
              ("Volunteer clean-up", "volunteering", 30), ("Legal advice day", "professional", 25),
              ("Children's reading club", "culture", 15))
PARTICIPANTS_CORRECTED = "counted again from the sign-in sheet"
