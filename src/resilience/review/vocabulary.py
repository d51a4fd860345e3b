"""The words of the record a review shows in its reader's language, for the catalog.

A review words enum values, fact and milestone names, escalation deadlines and the
built-in segment metrics' descriptions at run time (``_(words(value))``,
:func:`resilience.review.text.enum_words`), so ``pybabel extract`` cannot find them where
they are used: they are listed here, each marked with ``N_``. tests/test_i18n.py checks the
lists against the enums, the incident's facts, the milestones, the default escalation
policy and the built-in segments, so a new member without a translation fails there.
A word not in the catalog is shown as it is (in English), never dropped.
"""

from resilience.i18n import N_

ROLES = (N_("grid leader"), N_("grid worker"), N_("building leader"), N_("unit leader"),
         N_("party member household"), N_("squad member"), N_("volunteer"),
         N_("community staff"), N_("resident"), N_("provider"), N_("incident commander"),
         N_("system"))
INCIDENT_TYPES = (N_("fire"), N_("medical"), N_("gas"), N_("flood"), N_("security"),
                  N_("infrastructure"), N_("other"))
SEVERITIES = (N_("low"), N_("moderate"), N_("high"), N_("critical"))
INCIDENT_STATUSES = (N_("detected"), N_("reported"), N_("acknowledged"), N_("reopened"),
                     N_("dispatched"), N_("on scene"), N_("contained"), N_("resolved"),
                     N_("closed"))
CLOSURE_REASONS = (N_("resolved"), N_("false alarm"), N_("duplicate"), N_("cancelled"))
ORDER_STATUSES = (N_("placed"), N_("accepted"), N_("rejected"), N_("dispatched"),
                  N_("in progress"), N_("completed"), N_("reopened"), N_("cancelled"))
IMPROVEMENT_STATUSES = (N_("open"), N_("in progress"), N_("done"), N_("cancelled"))
RECOVERY_KINDS = (N_("order"), N_("improvement"))
ACTION_KINDS = (N_("equipment brought"), N_("equipment prepared"), N_("residents notified"),
                N_("evacuation"), N_("suppression"), N_("first aid"),
                N_("utilities isolated"), N_("other"))
INCIDENT_FACTS = (
    N_("acknowledged"), N_("action taken"), N_("closed"), N_("commander assigned"),
    N_("consent granted"), N_("consent refused"), N_("consent requested"), N_("contained"),
    N_("details corrected"), N_("detected"), N_("escalated"),
    N_("exigent entry authorised"), N_("forced entry made"), N_("note added"),
    N_("reclassified"), N_("recovery linked"), N_("referenced"), N_("reopened"),
    N_("reported"), N_("resolved"), N_("responder dispatched"), N_("responder en route"),
    N_("responder on scene"), N_("source found"), N_("time corrected"))
MILESTONES = (
    N_("detected"), N_("reported"), N_("acknowledged"), N_("commander assigned"),
    N_("first dispatched"), N_("first en route"), N_("first on scene"),
    N_("first unit dispatched"), N_("first unit en route"), N_("first unit on scene"),
    N_("residents notified"), N_("consent requested"), N_("consent granted"),
    N_("exigent entry"), N_("forced entry"), N_("source found"), N_("contained"),
    N_("resolved"), N_("closed"), N_("reopened"), N_("recovery linked"), N_("recovered"))
DEADLINES = (N_("acknowledged"), N_("on_scene"), N_("contained"), N_("response"),
             N_("completion"))
"""The default escalation policy's deadlines, by name as the policy gives it."""
GRADE_COLUMNS = (N_("n/a"), N_("pending"))
"""The overall table's columns besides the grade letters."""
INTERESTS = (N_("recorded the corrected fact"), N_("was named the incident's commander"),
             N_("responded to the incident"), N_("was the order's provider"),
             N_("acted as grid leader on the case"), N_("acted as grid worker on the case"))
"""resilience.metrics.quality.INTERESTS, as a correction by an interested party says them."""
SEGMENTS = (
    N_("from noticing an incident to telling the community office"),
    N_("alarm answering: the office acknowledging a report"),
    N_("alarm processing: from acknowledgement to the first dispatch"),
    N_("NFPA 1710 turnout of the first arriving unit: 80 s for fire (define 60 s for EMS); "
       "incidents that dispatched someone"),
    N_("NFPA 1710 travel of the first arriving unit: 240 s; incidents that dispatched "
       "someone"),
    N_("from the first responder on scene to containment"),
    N_("the community's resilience target: contained within 15 minutes of detection"),
    N_("from detection to the (final) resolution"),
    N_("from resolution to closing the record"),
    N_("from detection to full recovery: the last order or improvement item linked to the "
       "incident's recovery done (an order completed and rated); incidents with recovery "
       "work linked"),
    N_("each reopening to the containment of its cycle"),
    N_("each reopening to the resolution of its cycle"),
)
"""The descriptions of the segment metrics a review measures by default
(resilience.services.reviews.INCIDENT_SEGMENTS): a metric of your own is described as
you wrote it."""
ZONE_TYPES = (N_("new build"), N_("old estate"), N_("commercial"), N_("institutional"))
SERVICE_OUTCOMES = (N_("fixed"), N_("not fixed"))
PROVIDER_KINDS = (N_("alliance member"), N_("social organisation"), N_("property company"),
                  N_("grid worker"))
EMERGENCY_KINDS = (N_("flood"), N_("epidemic"), N_("major fire"), N_("power cut"),
                   N_("storm"), N_("earthquake"), N_("other"))
"""With the roles, the words the phrases of the other aggregates' facts say
(resilience.review.phrases): a zone classified, an order's outcome and provider, an
emergency declared."""
HAZARD_CATEGORIES = (N_("blocked exit"), N_("clutter"), N_("ebike charging"),
                     N_("extinguisher"), N_("gas"), N_("electrical"), N_("other"))
HAZARD_STATUSES = (N_("open"), N_("assigned"), N_("rectified"), N_("verified"), N_("closed"))
ASSIGNEE_KINDS = (N_("household"), N_("property company"), N_("provider"), N_("community"))
PATROL_FREQUENCIES = (N_("daily"), N_("weekly"), N_("monthly"))
HAZARD_FACTS = (
    N_("found"), N_("referenced"), N_("assigned"), N_("rectified"), N_("verified"),
    N_("closed"), N_("reopened"), N_("note added"), N_("linked to order"),
    N_("linked to improvement"), N_("linked to incident"), N_("time corrected"),
    N_("details corrected"), N_("from hazard"))
PATROL_FACTS = (N_("recorded"), N_("coverage corrected"), N_("end corrected"),
                N_("note added"), N_("adopted"), N_("revised"), N_("time corrected"),
                N_("details corrected"))
"""A hazard's and a patrol's (and patrol plan's) words: their categories, statuses,
assignees and frequencies as their phrases say them (resilience.review.phrases) and a
review's hazards section shows them, and their facts by name (an incident's, order's or
item's ``FromHazard`` among them)."""
CHANNELS = (N_("phone"),)
"""How an incident is reported (``Incident.report``'s channel: free text, "phone" by
default): the channels the catalog knows."""
