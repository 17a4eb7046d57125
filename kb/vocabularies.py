"""The programme's controlled vocabularies (issue 17): GCM objectives, migration-related
SDG targets and the programme's outcome areas. Codes are what the API, the manifest, the
search parameters and the database hold; labels are what pages show, in each interface
language. Adding a list is adding an entry to VOCABULARIES.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Concept:
    code: str
    # The label in each interface language ("en" always present).
    labels: dict[str, str] = field(hash=False, compare=False)
    # What the concept belongs to, as labels per language (an SDG target's goal).
    parent: dict[str, str] | None = field(default=None, hash=False, compare=False)

    def label(self, language: str = "en") -> str:
        return self.labels.get(language) or self.labels["en"]


def _gcm(number: int, en: str) -> Concept:
    return Concept(f"gcm-{number}", {"en": en})


# The 23 objectives of the Global Compact for Safe, Orderly and Regular Migration
# (A/RES/73/195, paragraph 16), official English titles.
GCM = (
    _gcm(1, "Collect and utilize accurate and disaggregated data as a basis for "
            "evidence-based policies"),
    _gcm(2, "Minimize the adverse drivers and structural factors that compel people to "
            "leave their country of origin"),
    _gcm(3, "Provide accurate and timely information at all stages of migration"),
    _gcm(4, "Ensure that all migrants have proof of legal identity and adequate "
            "documentation"),
    _gcm(5, "Enhance availability and flexibility of pathways for regular migration"),
    _gcm(6, "Facilitate fair and ethical recruitment and safeguard conditions that ensure "
            "decent work"),
    _gcm(7, "Address and reduce vulnerabilities in migration"),
    _gcm(8, "Save lives and establish coordinated international efforts on missing "
            "migrants"),
    _gcm(9, "Strengthen the transnational response to smuggling of migrants"),
    _gcm(10, "Prevent, combat and eradicate trafficking in persons in the context of "
             "international migration"),
    _gcm(11, "Manage borders in an integrated, secure and coordinated manner"),
    _gcm(12, "Strengthen certainty and predictability in migration procedures for "
             "appropriate screening, assessment and referral"),
    _gcm(13, "Use migration detention only as a measure of last resort and work towards "
             "alternatives"),
    _gcm(14, "Enhance consular protection, assistance and cooperation throughout the "
             "migration cycle"),
    _gcm(15, "Provide access to basic services for migrants"),
    _gcm(16, "Empower migrants and societies to realize full inclusion and social "
             "cohesion"),
    _gcm(17, "Eliminate all forms of discrimination and promote evidence-based public "
             "discourse to shape perceptions of migration"),
    _gcm(18, "Invest in skills development and facilitate mutual recognition of skills, "
             "qualifications and competences"),
    _gcm(19, "Create conditions for migrants and diasporas to fully contribute to "
             "sustainable development in all countries"),
    _gcm(20, "Promote faster, safer and cheaper transfer of remittances and foster "
             "financial inclusion of migrants"),
    _gcm(21, "Cooperate in facilitating safe and dignified return and readmission, as "
             "well as sustainable reintegration"),
    _gcm(22, "Establish mechanisms for the portability of social security entitlements "
             "and earned benefits"),
    _gcm(23, "Strengthen international cooperation and global partnerships for safe, "
             "orderly and regular migration"),
)


def _sdg(target: str, en: str, goal: str) -> Concept:
    return Concept(f"sdg-{target}", {"en": en}, {"en": goal})


_GOALS = {
    3: "Goal 3: Good health and well-being",
    4: "Goal 4: Quality education",
    5: "Goal 5: Gender equality",
    8: "Goal 8: Decent work and economic growth",
    10: "Goal 10: Reduced inequalities",
    16: "Goal 16: Peace, justice and strong institutions",
    17: "Goal 17: Partnerships for the goals",
}

# The migration-related SDG targets (in code order: goal, then target), English texts
# shortened to their first clause.
SDG = (
    _sdg("3.c", "3.c Increase health financing and the recruitment, development, training "
                "and retention of the health workforce", _GOALS[3]),
    _sdg("4.b", "4.b Expand the number of scholarships available to developing "
                "countries", _GOALS[4]),
    _sdg("5.2", "5.2 Eliminate all forms of violence against all women and girls, "
                "including trafficking", _GOALS[5]),
    _sdg("8.7", "8.7 Eradicate forced labour, end modern slavery and human trafficking",
         _GOALS[8]),
    _sdg("8.8", "8.8 Protect labour rights and promote safe working environments for all "
                "workers, including migrant workers", _GOALS[8]),
    _sdg("10.7", "10.7 Facilitate orderly, safe, regular and responsible migration and "
                 "mobility of people", _GOALS[10]),
    _sdg("10.c", "10.c Reduce the transaction costs of migrant remittances to less than "
                 "3 per cent", _GOALS[10]),
    _sdg("16.2", "16.2 End abuse, exploitation, trafficking and all forms of violence "
                 "against children", _GOALS[16]),
    _sdg("16.9", "16.9 Provide legal identity for all, including birth registration",
         _GOALS[16]),
    _sdg("17.18", "17.18 Increase the availability of high-quality, timely and reliable "
                  "data disaggregated by migratory status", _GOALS[17]),
)

# The programme's four outcome areas.
AREA = (
    Concept("area-evidence", {"en": "Evidence on migration and development"}),
    Concept("area-policy", {"en": "Migration integrated into policy planning"}),
    Concept("area-capacity", {"en": "Capacities of governments and partners"}),
    Concept("area-coordination", {"en": "Coordination mechanisms"}),
)

VOCABULARIES: dict[str, tuple[Concept, ...]] = {"gcm": GCM, "sdg": SDG, "area": AREA}


def concepts(vocabulary: str) -> tuple[Concept, ...]:
    """A list's concepts in code order (KeyError for an unknown list)."""
    return VOCABULARIES[vocabulary]


def find(vocabulary: str, code: str) -> Concept | None:
    """One concept of a list, or None."""
    return next((c for c in VOCABULARIES.get(vocabulary, ()) if c.code == code), None)
