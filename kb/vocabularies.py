"""The programme's controlled vocabularies (issue 17): GCM objectives, migration-related
SDG targets and the programme's outcome areas. Codes are what the API, the manifest, the
search parameters and the database hold; labels are what pages show, in each interface
language. Adding a list is adding an entry to VOCABULARIES.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kb.i18n import current_language


@dataclass(frozen=True)
class Concept:
    code: str
    # The label in each interface language ("en" always present).
    labels: dict[str, str] = field(hash=False, compare=False)
    # What the concept belongs to, as labels per language (an SDG target's goal).
    parent: dict[str, str] | None = field(default=None, hash=False, compare=False)

    def label(self, language: str = "en") -> str:
        return self.labels.get(language) or self.labels["en"]


def _gcm(number: int, en: str, fr: str, es: str, ru: str) -> Concept:
    return Concept(f"gcm-{number}", {"en": en, "fr": fr, "es": es, "ru": ru})


# The 23 objectives of the Global Compact for Safe, Orderly and Regular Migration
# (A/RES/73/195, paragraph 16), as titled in the resolution's English, French, Spanish
# and Russian versions. Checked against published copies of those versions: French 1-15
# and Spanish 1-10 (and 4), Russian 1-2. The others are written from the resolution as
# remembered and marked "unconfirmed": the wording may differ from the official text.
GCM = (
    _gcm(1, "Collect and utilize accurate and disaggregated data as a basis for "
            "evidence-based policies",
         "Collecter et utiliser des données précises et ventilées qui serviront à "
         "l’élaboration de politiques fondées sur la connaissance des faits",
         "Recopilar y utilizar datos exactos y desglosados para formular políticas con "
         "base empírica",
         "Сбор и использование точных и дезагрегированных данных в качестве основы для "
         "выработки эмпирически обоснованной политики"),
    _gcm(2, "Minimize the adverse drivers and structural factors that compel people to "
            "leave their country of origin",
         "Lutter contre les facteurs négatifs et les problèmes structurels qui poussent des "
         "personnes à quitter leur pays d’origine",
         "Minimizar los factores adversos y estructurales que obligan a las personas a "
         "abandonar su país de origen",
         "Сведение к минимуму неблагоприятного воздействия различных сил и структурных "
         "факторов, которые заставляют людей покидать страну своего происхождения"),
    _gcm(3, "Provide accurate and timely information at all stages of migration",
         "Fournir dans les meilleurs délais des informations exactes à toutes les étapes "
         "de la migration",
         "Proporcionar información exacta y oportuna en todas las etapas de la migración",
         # ru: unconfirmed
         "Предоставление точной и своевременной информации на всех этапах миграции"),
    _gcm(4, "Ensure that all migrants have proof of legal identity and adequate "
            "documentation",
         "Munir tous les migrants d’une preuve d’identité légale et de papiers adéquats",
         "Velar por que todos los migrantes tengan pruebas de su identidad jurídica y "
         "documentación adecuada",
         # ru: unconfirmed
         "Обеспечение того, чтобы все мигранты имели документы, удостоверяющие их "
         "личность, и надлежащие документы"),
    _gcm(5, "Enhance availability and flexibility of pathways for regular migration",
         "Faire en sorte que les filières de migration régulière soient accessibles et "
         "plus souples",
         "Aumentar la disponibilidad y flexibilidad de las vías de migración regular",
         # ru: unconfirmed
         "Повышение доступности и гибкости путей легальной миграции"),
    _gcm(6, "Facilitate fair and ethical recruitment and safeguard conditions that ensure "
            "decent work",
         "Favoriser des pratiques de recrutement justes et éthiques et assurer les "
         "conditions d’un travail décent",
         "Facilitar la contratación equitativa y ética y salvaguardar las condiciones que "
         "garantizan el trabajo decente",
         # ru: unconfirmed
         "Содействие справедливому и этичному найму и обеспечение условий, гарантирующих "
         "достойный труд"),
    _gcm(7, "Address and reduce vulnerabilities in migration",
         "S’attaquer aux facteurs de vulnérabilité liés aux migrations et les réduire",
         "Abordar y reducir las vulnerabilidades en la migración",
         # ru: unconfirmed
         "Устранение и уменьшение факторов уязвимости в процессе миграции"),
    _gcm(8, "Save lives and establish coordinated international efforts on missing "
            "migrants",
         "Sauver des vies et mettre en place une action internationale coordonnée pour "
         "retrouver les migrants disparus",
         "Salvar vidas y emprender iniciativas internacionales coordinadas sobre los "
         "migrantes desaparecidos",
         # ru: unconfirmed
         "Спасение жизней и организация скоординированных международных усилий в "
         "отношении пропавших без вести мигрантов"),
    _gcm(9, "Strengthen the transnational response to smuggling of migrants",
         "Renforcer l’action transnationale face au trafic de migrants",
         "Reforzar la respuesta transnacional al tráfico ilícito de migrantes",
         # ru: unconfirmed
         "Укрепление транснациональных мер по борьбе с незаконным ввозом мигрантов"),
    _gcm(10, "Prevent, combat and eradicate trafficking in persons in the context of "
             "international migration",
         "Prévenir, combattre et éliminer la traite de personnes dans le cadre des "
         "migrations internationales",
         "Prevenir, combatir y erradicar la trata de personas en el contexto de la "
         "migración internacional",
         # ru: unconfirmed
         "Предупреждение и пресечение торговли людьми и борьба с ней в контексте "
         "международной миграции"),
    _gcm(11, "Manage borders in an integrated, secure and coordinated manner",
         "Gérer les frontières de manière intégrée, sûre et coordonnée",
         # es: unconfirmed
         "Gestionar las fronteras de manera integrada, segura y coordinada",
         # ru: unconfirmed
         "Комплексное, безопасное и скоординированное управление границами"),
    _gcm(12, "Strengthen certainty and predictability in migration procedures for "
             "appropriate screening, assessment and referral",
         "Veiller à l’invariabilité et à la prévisibilité des procédures migratoires pour "
         "assurer des contrôles, des évaluations et une orientation appropriés",
         # es: unconfirmed
         "Aumentar la certidumbre y previsibilidad de los procedimientos migratorios para "
         "la adecuada verificación de antecedentes, evaluación y derivación",
         # ru: unconfirmed
         "Повышение определенности и предсказуемости миграционных процедур для "
         "надлежащей проверки, оценки и направления"),
    _gcm(13, "Use migration detention only as a measure of last resort and work towards "
             "alternatives",
         "Ne recourir au placement en rétention administrative des migrants qu’en dernier "
         "ressort et chercher des solutions de rechange",
         # es: unconfirmed
         "Utilizar la detención de migrantes solo como último recurso y buscar otras "
         "alternativas",
         # ru: unconfirmed
         "Использование содержания мигрантов под стражей только в качестве крайней меры "
         "и поиск альтернатив"),
    _gcm(14, "Enhance consular protection, assistance and cooperation throughout the "
             "migration cycle",
         "Renforcer la protection, l’assistance et la coopération consulaires tout au long "
         "du cycle migratoire",
         # es: unconfirmed
         "Mejorar la protección, asistencia y cooperación consulares a lo largo de todo el "
         "ciclo migratorio",
         # ru: unconfirmed
         "Усиление консульской защиты, помощи и сотрудничества на протяжении всего "
         "миграционного цикла"),
    _gcm(15, "Provide access to basic services for migrants",
         "Assurer l’accès des migrants aux services de base",
         # es: unconfirmed
         "Proporcionar a los migrantes acceso a servicios básicos",
         # ru: unconfirmed
         "Обеспечение доступа мигрантов к базовым услугам"),
    _gcm(16, "Empower migrants and societies to realize full inclusion and social "
             "cohesion",
         # fr: unconfirmed
         "Donner aux migrants et aux sociétés les moyens de parvenir à la pleine "
         "intégration et à la cohésion sociale",
         # es: unconfirmed
         "Empoderar a los migrantes y las sociedades para lograr la plena inclusión y la "
         "cohesión social",
         # ru: unconfirmed
         "Расширение прав и возможностей мигрантов и общества для обеспечения полной "
         "интеграции и социальной сплоченности"),
    _gcm(17, "Eliminate all forms of discrimination and promote evidence-based public "
             "discourse to shape perceptions of migration",
         # fr: unconfirmed
         "Éliminer toutes les formes de discrimination et encourager un débat public "
         "fondé sur l’analyse des faits afin de faire évoluer la manière dont les "
         "migrations sont perçues",
         # es: unconfirmed
         "Eliminar todas las formas de discriminación y promover un discurso público con "
         "base empírica para modificar las percepciones de la migración",
         # ru: unconfirmed
         "Ликвидация всех форм дискриминации и поощрение основанного на фактических "
         "данных общественного дискурса для формирования восприятия миграции"),
    _gcm(18, "Invest in skills development and facilitate mutual recognition of skills, "
             "qualifications and competences",
         # fr: unconfirmed
         "Investir dans le perfectionnement des compétences et faciliter la "
         "reconnaissance mutuelle des aptitudes, qualifications et compétences",
         # es: unconfirmed
         "Invertir en el desarrollo de aptitudes y facilitar el reconocimiento mutuo de "
         "aptitudes, cualificaciones y competencias",
         # ru: unconfirmed
         "Инвестирование в развитие навыков и содействие взаимному признанию навыков, "
         "квалификаций и компетенций"),
    _gcm(19, "Create conditions for migrants and diasporas to fully contribute to "
             "sustainable development in all countries",
         # fr: unconfirmed
         "Créer les conditions nécessaires pour que les migrants et les diasporas puissent "
         "contribuer pleinement au développement durable dans tous les pays",
         # es: unconfirmed
         "Crear las condiciones necesarias para que los migrantes y las diásporas puedan "
         "contribuir plenamente al desarrollo sostenible en todos los países",
         # ru: unconfirmed
         "Создание условий, позволяющих мигрантам и диаспорам в полной мере содействовать "
         "устойчивому развитию во всех странах"),
    _gcm(20, "Promote faster, safer and cheaper transfer of remittances and foster "
             "financial inclusion of migrants",
         # fr: unconfirmed
         "Promouvoir des conditions permettant l’envoi de fonds de façon rapide, sûre et "
         "économique et favoriser l’inclusion financière des migrants",
         # es: unconfirmed
         "Promover transferencias de remesas más rápidas, seguras y económicas y fomentar "
         "la inclusión financiera de los migrantes",
         # ru: unconfirmed
         "Содействие более быстрому, безопасному и дешевому переводу денежных средств и "
         "поощрение финансовой интеграции мигрантов"),
    _gcm(21, "Cooperate in facilitating safe and dignified return and readmission, as "
             "well as sustainable reintegration",
         # fr: unconfirmed
         "Coopérer en vue de faciliter le retour et la réadmission des migrants en toute "
         "sécurité et dans la dignité, ainsi que leur réintégration durable",
         # es: unconfirmed
         "Colaborar para facilitar el regreso y la readmisión en condiciones de seguridad "
         "y dignidad, así como la reintegración sostenible",
         # ru: unconfirmed
         "Сотрудничество в целях содействия безопасному и достойному возвращению и "
         "реадмиссии, а также устойчивой реинтеграции"),
    _gcm(22, "Establish mechanisms for the portability of social security entitlements "
             "and earned benefits",
         # fr: unconfirmed
         "Mettre en place des mécanismes de portabilité des droits de sécurité sociale et "
         "des avantages acquis",
         # es: unconfirmed
         "Establecer mecanismos para la portabilidad de la seguridad social y las "
         "prestaciones adquiridas",
         # ru: unconfirmed
         "Создание механизмов для обеспечения переносимости прав на социальное "
         "обеспечение и заработанных пособий"),
    _gcm(23, "Strengthen international cooperation and global partnerships for safe, "
             "orderly and regular migration",
         # fr: unconfirmed
         "Renforcer la coopération internationale et les partenariats mondiaux pour des "
         "migrations sûres, ordonnées et régulières",
         # es: unconfirmed
         "Fortalecer la cooperación internacional y las alianzas mundiales para la "
         "migración segura, ordenada y regular",
         # ru: unconfirmed
         "Укрепление международного сотрудничества и глобальных партнерств в интересах "
         "безопасной, упорядоченной и легальной миграции"),
)


# The Sustainable Development Goals' official short titles (the United Nations' SDG
# icons), per language.
_GOALS: dict[int, dict[str, str]] = {
    3: {"en": "Good health and well-being", "fr": "Bonne santé et bien-être",
        "es": "Salud y bienestar", "ru": "Хорошее здоровье и благополучие"},
    4: {"en": "Quality education", "fr": "Éducation de qualité",
        "es": "Educación de calidad", "ru": "Качественное образование"},
    5: {"en": "Gender equality", "fr": "Égalité entre les sexes",
        "es": "Igualdad de género", "ru": "Гендерное равенство"},
    8: {"en": "Decent work and economic growth",
        "fr": "Travail décent et croissance économique",
        "es": "Trabajo decente y crecimiento económico",
        "ru": "Достойная работа и экономический рост"},
    10: {"en": "Reduced inequalities", "fr": "Inégalités réduites",
         "es": "Reducción de las desigualdades", "ru": "Уменьшение неравенства"},
    16: {"en": "Peace, justice and strong institutions",
         "fr": "Paix, justice et institutions efficaces",
         "es": "Paz, justicia e instituciones sólidas",
         "ru": "Мир, правосудие и эффективные институты"},
    17: {"en": "Partnerships for the goals",
         "fr": "Partenariats pour la réalisation des objectifs",
         "es": "Alianzas para lograr los objetivos",
         "ru": "Партнерство в интересах устойчивого развития"},
}
_GOAL_WORD = {"en": "Goal {n}: {title}", "fr": "Objectif {n} : {title}",
              "es": "Objetivo {n}: {title}", "ru": "Цель {n}: {title}"}


def _goal(number: int) -> dict[str, str]:
    return {lang: _GOAL_WORD[lang].format(n=number, title=title)
            for lang, title in _GOALS[number].items()}


def _sdg(target: str, en: str, fr: str, es: str, ru: str) -> Concept:
    texts = {"en": en, "fr": fr, "es": es, "ru": ru}
    return Concept(f"sdg-{target}", {lang: f"{target} {text}" for lang, text in texts.items()},
                   _goal(int(target.split(".")[0])))


# The migration-related SDG targets (in code order: goal, then target), their official
# texts (A/RES/70/1, in each language) shortened to their first clause; the shortening is
# ours, so the wording of each language is close to, not exactly, the official text.
SDG = (
    _sdg("3.c", "Increase health financing and the recruitment, development, training "
                "and retention of the health workforce",
         "Accroître considérablement le budget de la santé et le recrutement, le "
         "perfectionnement, la formation et le maintien en poste du personnel de santé",
         "Aumentar considerablemente la financiación de la salud y la contratación, el "
         "perfeccionamiento, la capacitación y la retención del personal sanitario",
         "Существенно увеличить финансирование здравоохранения и набор, развитие, "
         "профессиональную подготовку и удержание медицинских кадров"),
    _sdg("4.b", "Expand the number of scholarships available to developing countries",
         "Augmenter nettement le nombre de bourses d’études offertes aux pays en "
         "développement",
         "Aumentar considerablemente el número de becas disponibles para los países en "
         "desarrollo",
         "Значительно увеличить число стипендий, доступных для развивающихся стран"),
    _sdg("5.2", "Eliminate all forms of violence against all women and girls, including "
                "trafficking",
         "Éliminer de la vie publique et de la vie privée toutes les formes de violence "
         "faite aux femmes et aux filles, y compris la traite",
         "Eliminar todas las formas de violencia contra todas las mujeres y las niñas, "
         "incluidas la trata",
         "Ликвидировать все формы насилия в отношении всех женщин и девочек, включая "
         "торговлю людьми"),
    _sdg("8.7", "Eradicate forced labour, end modern slavery and human trafficking",
         "Supprimer le travail forcé, mettre fin à l’esclavage moderne et à la traite "
         "d’êtres humains",
         "Erradicar el trabajo forzoso, poner fin a las formas contemporáneas de esclavitud "
         "y la trata de personas",
         "Искоренить принудительный труд, покончить с современным рабством и торговлей "
         "людьми"),
    _sdg("8.8", "Protect labour rights and promote safe working environments for all "
                "workers, including migrant workers",
         "Défendre les droits des travailleurs, promouvoir la sécurité sur le lieu de "
         "travail et assurer la protection de tous les travailleurs, y compris les migrants",
         "Proteger los derechos laborales y promover un entorno de trabajo seguro y sin "
         "riesgos para todos los trabajadores, incluidos los trabajadores migrantes",
         "Защищать трудовые права и содействовать обеспечению надежных и безопасных "
         "условий работы для всех трудящихся, включая трудящихся-мигрантов"),
    _sdg("10.7", "Facilitate orderly, safe, regular and responsible migration and "
                 "mobility of people",
         "Faciliter la migration et la mobilité de façon ordonnée, sans danger, régulière "
         "et responsable",
         "Facilitar la migración y la movilidad ordenadas, seguras, regulares y "
         "responsables de las personas",
         "Содействовать упорядоченной, безопасной, легальной и ответственной миграции и "
         "мобильности людей"),
    _sdg("10.c", "Reduce the transaction costs of migrant remittances to less than "
                 "3 per cent",
         "Faire baisser au-dessous de 3 pour cent les coûts de transaction des envois de "
         "fonds effectués par les migrants",
         "Reducir a menos del 3% los costos de transacción de las remesas de los migrantes",
         "Сократить операционные затраты, связанные с денежными переводами мигрантов, до "
         "менее чем 3 процентов"),
    _sdg("16.2", "End abuse, exploitation, trafficking and all forms of violence against "
                 "children",
         "Mettre un terme à la maltraitance, à l’exploitation et à la traite, et à toutes "
         "les formes de violence et de torture dont sont victimes les enfants",
         "Poner fin al maltrato, la explotación, la trata y todas las formas de violencia y "
         "tortura contra los niños",
         "Положить конец надругательствам, эксплуатации, торговле детьми и всем формам "
         "насилия и пыток в отношении детей"),
    _sdg("16.9", "Provide legal identity for all, including birth registration",
         "Garantir à tous une identité juridique, notamment grâce à l’enregistrement des "
         "naissances",
         "Proporcionar acceso a una identidad jurídica para todos, en particular mediante "
         "el registro de nacimientos",
         "Обеспечить наличие у всех людей законных удостоверений личности, включая "
         "регистрацию рождений"),
    _sdg("17.18", "Increase the availability of high-quality, timely and reliable data "
                  "disaggregated by migratory status",
         "Accroître nettement la disponibilité de données de qualité, actualisées et "
         "exactes, ventilées notamment selon le statut migratoire",
         "Aumentar significativamente la disponibilidad de datos oportunos, fiables y de "
         "gran calidad desglosados por estatus migratorio",
         "Значительно повысить доступность высококачественных, актуальных и достоверных "
         "данных в разбивке по миграционному статусу"),
)

# The programme's four outcome areas.
AREA = (
    Concept("area-evidence", {"en": "Evidence on migration and development",
                              "fr": "Données probantes sur la migration et le développement",
                              "es": "Evidencia sobre migración y desarrollo",
                              "ru": "Фактические данные о миграции и развитии"}),
    Concept("area-policy", {"en": "Migration integrated into policy planning",
                            "fr": "Migration intégrée dans la planification des politiques",
                            "es": "Migración integrada en la planificación de políticas",
                            "ru": "Учет миграции при планировании политики"}),
    Concept("area-capacity", {"en": "Capacities of governments and partners",
                              "fr": "Capacités des gouvernements et des partenaires",
                              "es": "Capacidades de los gobiernos y los socios",
                              "ru": "Потенциал правительств и партнеров"}),
    Concept("area-coordination", {"en": "Coordination mechanisms",
                                  "fr": "Mécanismes de coordination",
                                  "es": "Mecanismos de coordinación",
                                  "ru": "Механизмы координации"}),
)

VOCABULARIES: dict[str, tuple[Concept, ...]] = {"gcm": GCM, "sdg": SDG, "area": AREA}


def concepts(vocabulary: str) -> tuple[Concept, ...]:
    """A list's concepts in code order (KeyError for an unknown list)."""
    return VOCABULARIES[vocabulary]


def find(vocabulary: str, code: str) -> Concept | None:
    """One concept of a list, or None."""
    return next((c for c in VOCABULARIES.get(vocabulary, ()) if c.code == code), None)


# The lists' names, in the order pages, forms and the API show them.
NAMES: tuple[str, ...] = tuple(VOCABULARIES)


def normalise(vocabulary: str, value: str) -> str | None:
    """The code a value names in a list ("GCM-20", "gcm-20" and "20" alike), or None."""
    raw = value.strip().lower()
    if not raw:
        return None
    for candidate in (raw, f"{vocabulary}-{raw}"):
        if find(vocabulary, candidate) is not None:
            return candidate
    return None


def label(vocabulary: str, code: str, language: str | None = None) -> str:
    """A code's label in ``language`` (the interface language unless named); the code
    itself for one the list does not hold."""
    concept = find(vocabulary, code)
    if concept is None:
        return code
    return concept.label(language or current_language())


def goal(code: str, language: str | None = None) -> str | None:
    """The goal an SDG target belongs to, in ``language`` (the interface language)."""
    concept = find("sdg", code)
    if concept is None or concept.parent is None:
        return None
    lang = language or current_language()
    return concept.parent.get(lang) or concept.parent["en"]
