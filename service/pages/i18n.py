"""Every visible word of the caseworker page, in Finnish, Swedish and English.

Field names and allowed values come from `models.profile`; this module only words them.
Service names and descriptions come from the catalog, the gate's reasons from the gate, and
the needs behind a suggestion from `models.explanations`: one source for each text.
"""

from __future__ import annotations

import math
from typing import Final

from models.catalog import ServiceLimits
from models.languages import DEFAULT_LANGUAGE, LANGUAGES
from models.profile import ENUM_VALUES, SPEC_BY_NAME

LANGUAGE_NAMES: Final = {"fi": "Suomeksi", "sv": "På svenska", "en": "In English"}

Texts = dict[str, tuple[str, str, str]]

# Page furniture: key -> (fi, sv, en).
UI: Final[Texts] = {
    "title": ("Polku – palveluehdotukset", "Polku – tjänsteförslag", "Polku – service suggestions"),
    "skip": ("Siirry sisältöön", "Hoppa till innehållet", "Skip to content"),
    "language": ("Kieli", "Språk", "Language"),
    "signed_in_as": ("Kirjautunut:", "Inloggad:", "Signed in as"),
    "sign_out": ("Kirjaudu ulos", "Logga ut", "Sign out"),
    "sign_in": ("Kirjaudu sisään", "Logga in", "Sign in"),
    "sign_in_intro": (
        "Kirjaudu virkailijan tunnuksella (sama avain kuin Polkun rajapinnassa).",
        "Logga in med handläggarens nyckel (samma nyckel som i Polkus gränssnitt).",
        "Sign in with your caseworker key (the same key as for Polku's API).",
    ),
    "key": ("Käyttäjäavain", "Användarnyckel", "Access key"),
    "key_help": (
        "Saat avaimen ylläpidolta. Avainta ei tallenneta selaimeen.",
        "Du får nyckeln av administrationen. Nyckeln sparas inte i webbläsaren.",
        "Your administrator gives you the key. The key is not stored in the browser.",
    ),
    "bad_key": ("Tuntematon avain.", "Okänd nyckel.", "Unknown key."),
    "not_caseworker": (
        "Tämä sivu on virkailijoille; avaimesi kuuluu toiseen rooliin.",
        "Den här sidan är för handläggare; din nyckel hör till en annan roll.",
        "This page is for caseworkers; your key belongs to another role.",
    ),
    "csrf": (
        "Lomake vanheni tai tuli toiselta sivulta. Yritä uudelleen.",
        "Formuläret har gått ut eller kom från en annan sida. Försök igen.",
        "The form expired or came from another page. Please try again.",
    ),
    "advice": (
        "Ehdotukset ovat neuvoja. Päätöksen tekee aina virkailija yhdessä asiakkaan kanssa.",
        "Förslagen är råd. Beslutet fattas alltid av handläggaren tillsammans med klienten.",
        "The suggestions are advice. The caseworker always decides, together with the client.",
    ),
    "profile_heading": ("Asiakkaan tiedot", "Klientens uppgifter", "The client's profile"),
    "required_note": ("* pakollinen tieto", "* obligatorisk uppgift", "* required"),
    "group_who": ("Kuka asiakas on", "Vem klienten är", "Who the person is"),
    "group_situation": ("Tilanne", "Situation", "Their situation"),
    "group_needs": ("Tarpeet ja esteet", "Behov och hinder", "Needs and barriers"),
    "group_barriers": (
        "Työllistymisen esteet (valitse kaikki sopivat)",
        "Hinder för sysselsättning (välj alla som passar)",
        "Barriers to employment (tick all that apply)",
    ),
    "group_request": ("Ehdotukset", "Förslag", "Suggestions"),
    "submit": (
        "Arvioi ja ehdota palveluja",
        "Bedöm och föreslå tjänster",
        "Assess and suggest services",
    ),
    "yes": ("Kyllä", "Ja", "Yes"),
    "no": ("Ei", "Nej", "No"),
    "not_given": ("Ei ilmoitettu", "Inte uppgivet", "Not given"),
    "errors_heading": (
        "Tarkista merkityt kentät",
        "Kontrollera de markerade fälten",
        "Please check the marked fields",
    ),
    "answer_heading": ("Arvio", "Bedömning", "Assessment"),
    "eligible_yes": (
        "Asiakas kuuluu Helsingin työllisyyspalveluihin.",
        "Klienten hör till Helsingfors sysselsättningstjänster.",
        "The person is a client of Helsinki's employment services.",
    ),
    "eligible_no": (
        "Asiakas ei kuulu Helsingin työllisyyspalveluihin: hänen palvelunsa järjestää TE-toimisto.",
        "Personen hör inte till Helsingfors sysselsättningstjänster: TE-byrån ordnar tjänsterna.",
        "The person is not a client of Helsinki's employment services: the TE office serves them.",
    ),
    "reasons": ("Perustelut", "Motivering", "Reasons"),
    "rules_version": ("Sääntöversio", "Regelversion", "Rules version"),
    "model_version": ("Malliversio", "Modellversion", "Model version"),
    "request_id": ("Pyynnön tunnus", "Förfrågans id", "Request id"),
    "objective_used": ("Tavoite", "Mål", "Objective"),
    "no_model": (
        "Palveluehdotuksia ei ole nyt saatavilla (mallia ei ole ladattu). Arvio asiakkuudesta "
        "on silti voimassa.",
        "Tjänsteförslag finns inte just nu (ingen modell är laddad). Bedömningen av "
        "kundskapen gäller ändå.",
        "Service suggestions are unavailable right now (no model is loaded). The "
        "eligibility decision above still stands.",
    ),
    "no_services": (
        "Asiakkaalle ei löytynyt palveluja, joiden ehdot hän täyttää.",
        "Inga tjänster hittades vars villkor klienten uppfyller.",
        "No service was found whose limits the person meets.",
    ),
    "services_heading": ("Ehdotetut palvelut", "Föreslagna tjänster", "Suggested services"),
    "services_intro": (
        "Järjestetty sen mukaan, kuinka paljon palvelun odotetaan parantavan tavoitetta "
        "juuri tälle asiakkaalle.",
        "Ordnade efter hur mycket tjänsten väntas förbättra målet för just den här klienten.",
        "Ordered by how much each service is expected to improve the objective for this person.",
    ),
    "family": ("Palveluryhmä", "Tjänstegrupp", "Family"),
    "with_service": ("Palvelun kanssa", "Med tjänsten", "With the service"),
    "without_service": ("Ilman palvelua", "Utan tjänsten", "Without it"),
    "uplift": ("Vaikutus", "Effekt", "Effect"),
    "interval": ("90 %:n väli", "90 %-intervall", "90% interval"),
    "interval_note": (
        "Väli on mallin epävarmuus (tavoite 90 %). Synteettisellä aineistolla se sisälsi "
        "todellisen vaikutuksen noin 85–90 %:ssa ehdotuksista; tietoja, joita profiilissa "
        "ei ole, se ei huomioi.",
        "Intervallet är modellens osäkerhet (mål 90 %). På syntetiska data innehöll det den "
        "verkliga effekten i ungefär 85–90 % av förslagen; det tar inte hänsyn till sådant som "
        "profilen saknar.",
        "The interval is the model's uncertainty (aiming at 90%). On synthetic data it held the "
        "true effect for about 85–90% of suggestions; it cannot allow for what the profile "
        "does not record.",
    ),
    "uplift_label": (
        "Vaikutus {uplift}, 90 %:n väli {low} … {high}",
        "Effekt {uplift}, 90 %-intervall {low} … {high}",
        "Effect {uplift}, 90% interval {low} to {high}",
    ),
    "drivers": (
        "Tarpeet ja esteet ehdotuksen takana",
        "Behov och hinder bakom förslaget",
        "Needs and barriers behind it",
    ),
    "no_drivers": (
        "Ei yksittäistä tarvetta: vaikutus on samanlainen useimmille asiakkaille.",
        "Inget enskilt behov: effekten är likartad för de flesta klienter.",
        "No single need: the effect is similar for most clients.",
    ),
    "description": ("Kuvaus", "Beskrivning", "Description"),
    "provider": ("Järjestäjä", "Anordnare", "Provider"),
    "length": ("Kesto", "Längd", "Length"),
    "weeks": ("{n} viikkoa", "{n} veckor", "{n} weeks"),
    "limits": ("Ehdot", "Villkor", "Limits"),
    "no_limits": ("Avoin kaikille asiakkaille", "Öppen för alla klienter", "Open to every client"),
    "delivery_languages": ("Palvelukielet", "Tjänstespråk", "Languages of delivery"),
    "decision_heading": ("Kirjaa päätös", "Registrera beslutet", "Record the decision"),
    "decision_intro": (
        "Valitse ehdotettu palvelu, jokin muu palvelu tai ei palvelua. Kerro syy, jos et "
        "valitse ensimmäistä ehdotusta.",
        "Välj en föreslagen tjänst, en annan tjänst eller ingen tjänst. Ange skälet om du "
        "inte väljer det första förslaget.",
        "Take a suggested service, pick another service, or none. Give a reason when you do "
        "not take the top suggestion.",
    ),
    "choice": ("Päätös", "Beslut", "Decision"),
    "take": ("Valitse: {name}", "Välj: {name}", "Take: {name}"),
    "top_marker": ("(paras ehdotus)", "(bästa förslaget)", "(top suggestion)"),
    "other_service": ("Jokin muu palvelu", "En annan tjänst", "Another service"),
    "other_service_pick": ("Muu palvelu", "Annan tjänst", "The other service"),
    "choose": ("– valitse –", "– välj –", "– choose –"),
    "no_service": ("Ei palvelua nyt", "Ingen tjänst nu", "No service for now"),
    "reason": ("Syy", "Skäl", "Reason"),
    "reason_help": (
        "Pakollinen, jos päätös poikkeaa ensimmäisestä ehdotuksesta. Älä kirjoita "
        "henkilötunnusta tai terveystietoja.",
        "Obligatoriskt om beslutet avviker från det första förslaget. Skriv inte "
        "personbeteckning eller hälsouppgifter.",
        "Required when the decision differs from the top suggestion. Do not write identity "
        "codes or health details.",
    ),
    "record": ("Tallenna päätös", "Spara beslutet", "Record the decision"),
    "recorded": ("Päätös tallennettu", "Beslutet har sparats", "Decision recorded"),
    "recorded_list": ("Tallennetut päätökset", "Sparade beslut", "Recorded decisions"),
    "correction_note": (
        "Päätöstä ei muuteta jälkikäteen: korjaus tallennetaan uutena päätöksenä.",
        "Ett beslut ändras inte i efterhand: en rättelse sparas som ett nytt beslut.",
        "A decision is never changed: a correction is recorded as a new decision.",
    ),
    "followed_top": (
        "seurasi parasta ehdotusta",
        "följde bästa förslaget",
        "followed the top suggestion",
    ),
    "not_followed_top": (
        "poikkesi parhaasta ehdotuksesta",
        "avvek från bästa förslaget",
        "differed from the top suggestion",
    ),
    "decision_none": ("ei palvelua", "ingen tjänst", "no service"),
    "answer_gone": (
        "Tätä arviota ei enää ole muistissa. Täytä lomake uudelleen.",
        "Den här bedömningen finns inte längre i minnet. Fyll i formuläret igen.",
        "This assessment is no longer held. Please fill in the form again.",
    ),
    "new_assessment": ("Uusi arvio", "Ny bedömning", "New assessment"),
    "decision_rejected": (
        "Päätöstä ei tallennettu.",
        "Beslutet sparades inte.",
        "The decision was not recorded.",
    ),
    "reason_needed": (
        "Kerro syy, kun päätös poikkeaa ensimmäisestä ehdotuksesta.",
        "Ange skälet när beslutet avviker från det första förslaget.",
        "Give a reason when the decision differs from the top suggestion.",
    ),
    "pick_needed": ("Valitse palvelu.", "Välj en tjänst.", "Choose a service."),
    "not_decidable": (
        "Tälle arviolle ei voi kirjata päätöstä.",
        "Ett beslut kan inte registreras för den här bedömningen.",
        "No decision can be recorded for this assessment.",
    ),
    "choice_needed": ("Valitse päätös.", "Välj ett beslut.", "Choose a decision."),
    "audit_down": (
        "Tapahtumalokiin ei juuri nyt voi kirjoittaa, joten mitään ei tallennettu. Yritä hetken "
        "päästä uudelleen.",
        "Granskningsloggen kan inte skrivas just nu, så inget sparades. Försök igen om en stund.",
        "The audit store cannot be written right now, so nothing was recorded. Try again shortly.",
    ),
    "footer": (
        "Polku ehdottaa; virkailija päättää. Henkilötunnusta ei tallenneta eikä näytetä.",
        "Polku föreslår; handläggaren beslutar. Personbeteckningen sparas eller visas inte.",
        "Polku suggests; the caseworker decides. The identity code is never stored or shown.",
    ),
    "office_helsinki": (
        "Vastuussa: Helsingin työllisyyspalvelut",
        "Ansvarig: Helsingfors sysselsättningstjänster",
        "Responsible: Helsinki's employment services",
    ),
    "office_te_office": (
        "Vastuussa: TE-toimisto",
        "Ansvarig: TE-byrån",
        "Responsible: the TE office",
    ),
    "rank": ("Sija {n}", "Plats {n}", "Rank {n}"),
}

# Profile fields: name -> ((fi, sv, en) label, (fi, sv, en) help or None).
FIELDS: Final[dict[str, tuple[tuple[str, str, str], tuple[str, str, str] | None]]] = {
    "client_id": (
        ("Asiakasnumero", "Klientnummer", "Client id"),
        (
            "Rekisterin asiakasnumero, ei henkilötunnus.",
            "Registrets klientnummer, inte personbeteckningen.",
            "The register's client number, not the identity code.",
        ),
    ),
    "henkilotunnus": (
        ("Henkilötunnus", "Personbeteckning", "Personal identity code"),
        (
            "Vapaaehtoinen: syntymäaika luetaan siitä. Tunnusta ei tallenneta eikä näytetä "
            "uudelleen.",
            "Frivillig: födelsedatumet läses ur den. Beteckningen sparas inte och visas inte igen.",
            "Optional: the birth date is read from it. The code is never stored or shown again.",
        ),
    ),
    "birth_date": (
        ("Syntymäaika", "Födelsedatum", "Birth date"),
        (
            "Tarvitaan, jos henkilötunnusta ei anneta.",
            "Behövs om personbeteckningen inte anges.",
            "Needed when no identity code is given.",
        ),
    ),
    "gender": (
        ("Sukupuoli", "Kön", "Gender"),
        (
            "Vapaaehtoinen. Käytetään vain tasa-arvon seurantaan, ei ehdotuksiin.",
            "Frivilligt. Används endast för uppföljning av jämlikhet, inte i förslagen.",
            "Optional. Used only to check fairness, never for the suggestions.",
        ),
    ),
    "mother_tongue": (
        ("Äidinkieli", "Modersmål", "Mother tongue"),
        (
            "Kielikoodi (ISO 639), esim. fi, sv, so, ar. Ei vaikuta ehdotuksiin sellaisenaan.",
            "Språkkod (ISO 639), t.ex. fi, sv, so, ar. Påverkar inte förslagen som sådant.",
            "Language code (ISO 639), e.g. fi, sv, so, ar. Not used as such for suggestions.",
        ),
    ),
    "immigrant": (("Maahanmuuttaja", "Invandrare", "Immigrant"), None),
    "home_municipality": (
        ("Kotikunta", "Hemkommun", "Home municipality"),
        (
            "Kolminumeroinen kuntanumero; Helsinki on 091.",
            "Tresiffrig kommunkod; Helsingfors är 091.",
            "Three-digit municipality code; Helsinki is 091.",
        ),
    ),
    "registered_jobseeker": (
        ("Ilmoittautunut työnhakijaksi", "Anmäld som arbetssökande", "Registered job seeker"),
        None,
    ),
    "labour_market_status": (
        ("Työmarkkinatilanne", "Ställning på arbetsmarknaden", "Labour-market status"),
        None,
    ),
    "unemployment_benefit": (
        ("Työttömyysetuus", "Arbetslöshetsförmån", "Unemployment benefit"),
        None,
    ),
    "unemployment_months": (
        ("Työttömyyden kesto (kk)", "Arbetslöshetens längd (mån)", "Months unemployed"),
        (
            "Yhtäjaksoisen työttömyyden kesto kuukausina.",
            "Längden på den sammanhängande arbetslösheten i månader.",
            "Length of the current unemployment spell in months.",
        ),
    ),
    "experiment_client_since": (
        ("Kokeilun asiakas alkaen", "Kund i försöket sedan", "Experiment client since"),
        (
            "Jos asiakas on jo kuntakokeilun asiakas; muuten tyhjä.",
            "Om personen redan är kund i kommunförsöket; annars tomt.",
            "If the person is already a client of the experiment; else leave empty.",
        ),
    ),
    "assessment_date": (
        ("Arviointipäivä", "Bedömningsdag", "Assessment date"),
        (
            "Päivä, jolta arvio tehdään (kuntakokeilu 1.3.2021–31.12.2024).",
            "Dagen bedömningen gäller (kommunförsöket 1.3.2021–31.12.2024).",
            "The day the assessment is for (the experiment ran 2021-03-01 to 2024-12-31).",
        ),
    ),
    "education_level": (("Koulutus", "Utbildning", "Education"), None),
    "work_experience_years": (
        ("Työkokemus (vuotta)", "Arbetserfarenhet (år)", "Work experience (years)"),
        None,
    ),
    "language_level": (
        (
            "Suomen tai ruotsin taito",
            "Kunskaper i finska eller svenska",
            "Finnish or Swedish level",
        ),
        (
            "Eurooppalainen taitotaso A0–C2 tai äidinkieli.",
            "Europeisk nivå A0–C2 eller modersmål.",
            "European level A0–C2, or native.",
        ),
    ),
    "work_ability": (("Työkyky", "Arbetsförmåga", "Work ability"), None),
    "health_limitations": (
        ("Terveyteen liittyviä rajoitteita", "Hälsobegränsningar", "Health limitations"),
        None,
    ),
    "mental_health_needs": (
        ("Mielenterveyden tuen tarve", "Behov av stöd för psykisk hälsa", "Mental health needs"),
        None,
    ),
    "substance_use": (("Päihteiden käyttö", "Missbruk", "Substance use"), None),
    "debt_problems": (("Velkaongelmat", "Skuldproblem", "Debt problems"), None),
    "housing_insecurity": (("Asumisen epävarmuus", "Osäkert boende", "Housing insecurity"), None),
    "caregiving_duties": (("Hoivavastuu", "Omsorgsansvar", "Caregiving duties"), None),
    "low_digital_skills": (
        ("Heikot digitaidot", "Svaga digitala färdigheter", "Low digital skills"),
        None,
    ),
    "outdated_skills": (("Vanhentunut osaaminen", "Föråldrad kompetens", "Outdated skills"), None),
    "entrepreneurship_interest": (
        ("Kiinnostus yrittäjyyteen", "Intresse för företagande", "Interest in entrepreneurship"),
        None,
    ),
    "objective": (
        ("Tavoite", "Mål", "Objective"),
        (
            "Mitä ehdotukset pyrkivät parantamaan.",
            "Vad förslagen ska förbättra.",
            "What the suggestions should improve.",
        ),
    ),
    "top_k": (("Ehdotusten määrä", "Antal förslag", "Number of suggestions"), None),
}

# Allowed values of the enum fields (and the objectives): field -> value -> (fi, sv, en).
VALUES: Final[dict[str, dict[str, tuple[str, str, str]]]] = {
    "labour_market_status": {
        "unemployed": ("Työtön", "Arbetslös", "Unemployed"),
        "laid_off": ("Kokoaikaisesti lomautettu", "Helt permitterad", "Fully laid off"),
        "pay_subsidised": (
            "Palkkatuetussa työssä",
            "I lönesubventionerat arbete",
            "In pay-subsidised work",
        ),
        "in_services": (
            "Työllistymistä edistävässä palvelussa",
            "I sysselsättningsfrämjande service",
            "In employment services",
        ),
        "employed": ("Työssä", "I arbete", "Employed"),
        "short_time_work": ("Lyhennetyllä työviikolla", "Förkortad arbetsvecka", "Short-time work"),
        "full_time_student": ("Päätoiminen opiskelija", "Heltidsstuderande", "Full-time student"),
        "outside_labour_force": (
            "Työvoiman ulkopuolella",
            "Utanför arbetskraften",
            "Outside the labour force",
        ),
        "unemployment_pension": (
            "Työttömyyseläkkeellä",
            "Arbetslöshetspension",
            "Unemployment pension",
        ),
    },
    "unemployment_benefit": {
        "earnings_related_allowance": (
            "Ansiosidonnainen päiväraha",
            "Inkomstrelaterad dagpenning",
            "Earnings-related allowance",
        ),
        "basic_daily_allowance": ("Peruspäiväraha", "Grunddagpenning", "Basic daily allowance"),
        "labour_market_subsidy": ("Työmarkkinatuki", "Arbetsmarknadsstöd", "Labour market subsidy"),
        "social_assistance": ("Toimeentulotuki", "Utkomststöd", "Social assistance"),
        "sickness_allowance": ("Sairauspäiväraha", "Sjukdagpenning", "Sickness allowance"),
        "none": ("Ei etuutta", "Ingen förmån", "None"),
    },
    "education_level": {
        "none": ("Ei tutkintoa", "Ingen examen", "No qualification"),
        "basic": ("Perusaste", "Grundnivå", "Basic education"),
        "upper_secondary": ("Lukio", "Gymnasium", "Upper secondary (general)"),
        "vocational": ("Ammatillinen tutkinto", "Yrkesexamen", "Vocational qualification"),
        "bachelor": ("Alempi korkeakoulututkinto", "Lägre högskoleexamen", "Bachelor's degree"),
        "master": ("Ylempi korkeakoulututkinto", "Högre högskoleexamen", "Master's degree"),
    },
    "language_level": {
        **{level: (level, level, level) for level in ("A0", "A1", "A2", "B1", "B2", "C1", "C2")},
        "native": ("Äidinkieli", "Modersmål", "Native"),
    },
    "work_ability": {
        "full": ("Täysi", "Full", "Full"),
        "partial": ("Osittainen", "Partiell", "Partial"),
    },
    "entrepreneurship_interest": {
        "none": ("Ei kiinnostusta", "Inget intresse", "None"),
        "some": ("Jonkin verran", "Visst intresse", "Some"),
        "business_plan": (
            "Liiketoimintasuunnitelma valmis",
            "Affärsplan klar",
            "Has a business plan",
        ),
    },
    "gender": {
        "female": ("Nainen", "Kvinna", "Female"),
        "male": ("Mies", "Man", "Male"),
        "other": ("Muu", "Annat", "Other"),
    },
    "objective": {
        "employment_or_education_6m": (
            "Työ tai koulutus 6 kuukauden kuluttua",
            "Arbete eller utbildning efter 6 månader",
            "Work or education at 6 months",
        ),
        "employment_12m": (
            "Työ 12 kuukauden kuluttua",
            "Arbete efter 12 månader",
            "Work at 12 months",
        ),
    },
    "family": {
        "entrepreneurship": ("Yrittäjyys", "Företagande", "Entrepreneurship"),
        "job_search": (
            "Työnhaku ja työllistyminen",
            "Jobbsökning och sysselsättning",
            "Job search and employment",
        ),
        "education": ("Koulutus", "Utbildning", "Education"),
        "social": ("Sosiaaliset palvelut", "Sociala tjänster", "Social services"),
        "health": ("Terveys ja työkyky", "Hälsa och arbetsförmåga", "Health and work ability"),
    },
}

# Wording of the profile's validation problems, by stable code (`ERROR_CODES` of
# `models.profile_validation`); a (code, field) or (code, field kind) entry words a code
# for one field or kind. The English messages of the validator are never shown: they may
# quote the bad value, which could be an identity code typed into the wrong field.
ERRORS: Final[dict[str | tuple[str, str], tuple[str, str, str]]] = {
    "missing_birth_date": (
        "Anna syntymäaika tai henkilötunnus.",
        "Ange födelsedatum eller personbeteckning.",
        "Give a birth date or an identity code.",
    ),
    "missing": ("Pakollinen tieto puuttuu.", "Obligatorisk uppgift saknas.", "Required."),
    "not_text": ("Tarkista tämä tieto.", "Kontrollera uppgiften.", "Please check this field."),
    "bad_date": (
        "Anna päivämäärä muodossa VVVV-KK-PP.",
        "Ange datumet som ÅÅÅÅ-MM-DD.",
        "Give the date as YYYY-MM-DD.",
    ),
    "impossible_date": (
        "Päivämäärää ei ole olemassa.",
        "Datumet finns inte.",
        "No such date.",
    ),
    ("out_of_range", "date"): (
        "Päivämäärä ei ole uskottava.",
        "Datumet är inte rimligt.",
        "The date is not plausible.",
    ),
    "disagrees_with_henkilotunnus": (
        "Syntymäaika ei vastaa henkilötunnusta.",
        "Födelsedatumet stämmer inte med personbeteckningen.",
        "The birth date does not match the identity code.",
    ),
    "after_assessment_date": (
        "Syntymäaika on arviointipäivän jälkeen.",
        "Födelsedatumet är efter bedömningsdagen.",
        "The birth date is after the assessment date.",
    ),
    "looks_like_henkilotunnus": (
        "Tämä näyttää henkilötunnukselta: käytä asiakasnumeroa.",
        "Det här ser ut som en personbeteckning: använd klientnumret.",
        "This looks like an identity code: use the client number.",
    ),
    "too_long": ("Liian pitkä.", "För lång.", "Too long."),
    "not_whole_number": (
        "Anna kokonaisluku sallitulta väliltä.",
        "Ange ett heltal inom det tillåtna intervallet.",
        "Give a whole number in the allowed range.",
    ),
    ("out_of_range", "whole"): (
        "Anna kokonaisluku sallitulta väliltä.",
        "Ange ett heltal inom det tillåtna intervallet.",
        "Give a whole number in the allowed range.",
    ),
    "not_number": (
        "Anna luku sallitulta väliltä.",
        "Ange ett tal inom det tillåtna intervallet.",
        "Give a number in the allowed range.",
    ),
    "out_of_range": (
        "Anna luku sallitulta väliltä.",
        "Ange ett tal inom det tillåtna intervallet.",
        "Give a number in the allowed range.",
    ),
    ("bad_pattern", "home_municipality"): (
        "Anna kolminumeroinen kuntanumero, esim. 091.",
        "Ange en tresiffrig kommunkod, t.ex. 091.",
        "Give a three-digit municipality code such as 091.",
    ),
    ("bad_pattern", "mother_tongue"): (
        "Anna 2–3-kirjaiminen kielikoodi, esim. fi.",
        "Ange en språkkod med 2–3 bokstäver, t.ex. sv.",
        "Give a 2-3 letter language code such as en.",
    ),
    "bad_pattern": ("Tarkista tämä tieto.", "Kontrollera uppgiften.", "Please check this field."),
    "not_allowed_value": (
        "Valitse jokin vaihtoehdoista.",
        "Välj ett av alternativen.",
        "Choose one of the options.",
    ),
    "not_bool": ("Valitse kyllä tai ei.", "Välj ja eller nej.", "Choose yes or no."),
    "unknown_field": (
        "Tuntematon tieto.",
        "Okänd uppgift.",
        "Unknown field.",
    ),
    "henkilotunnus_malformed": (
        "Henkilötunnus on väärän muotoinen (PPKKVVSNNNT).",
        "Personbeteckningen har fel form (DDMMÅÅCNNNK).",
        "The identity code is malformed (DDMMYYCZZZQ).",
    ),
    "henkilotunnus_century_sign": (
        "Henkilötunnuksen välimerkki on tuntematon.",
        "Personbeteckningens skiljetecken är okänt.",
        "The identity code's century sign is unknown.",
    ),
    "henkilotunnus_impossible_date": (
        "Henkilötunnuksen syntymäaikaa ei ole olemassa.",
        "Personbeteckningens födelsedatum finns inte.",
        "The identity code holds an impossible birth date.",
    ),
    "henkilotunnus_check_character": (
        "Henkilötunnuksen tarkistusmerkki ei täsmää.",
        "Personbeteckningens kontrolltecken stämmer inte.",
        "The identity code's check character is wrong.",
    ),
    "henkilotunnus_individual_number": (
        "Henkilötunnuksen yksilönumero on virheellinen.",
        "Personbeteckningens individnummer är felaktigt.",
        "The identity code's individual number is out of range.",
    ),
}
_CHECK_FIELD: Final = ("Tarkista tämä tieto.", "Kontrollera uppgiften.", "Please check this field.")

_INDEX: Final = {lang: k for k, lang in enumerate(LANGUAGES)}


def preferred_language(accept_language: str) -> str:
    """The first of the page's languages an `Accept-Language` header names, else Finnish."""
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return DEFAULT_LANGUAGE


def ui(key: str, lang: str, **values: object) -> str:
    """A text of the page in `lang`, with `{name}` placeholders filled."""
    text = UI[key][_INDEX[lang]]
    return text.format(**values) if values else text


def field_label(name: str, lang: str) -> str:
    """The label of a form field."""
    return FIELDS[name][0][_INDEX[lang]]


def field_help(name: str, lang: str) -> str | None:
    """The help text of a form field, if it has one."""
    help_text = FIELDS[name][1]
    return None if help_text is None else help_text[_INDEX[lang]]


def value_label(field_name: str, value: str, lang: str) -> str:
    """The word for an allowed value of an enum field (or objective, or service family)."""
    return VALUES[field_name][value][_INDEX[lang]]


def error_text(code: str, field_name: str, lang: str) -> str:
    """The wording, in `lang`, of a validation problem (`code`) with one profile field."""
    spec = SPEC_BY_NAME.get(field_name)
    for key in ((code, field_name), (code, spec.kind if spec else ""), code):
        texts = ERRORS.get(key)
        if texts is not None:
            return texts[_INDEX[lang]]
    return _CHECK_FIELD[_INDEX[lang]]


def percent(probability: float, lang: str) -> str:
    """A probability as a whole percentage, the way each language writes it."""
    number = round(100 * probability)
    return f"{number}%" if lang == "en" else f"{number} %"


def points(difference: float, lang: str) -> str:
    """A difference of probabilities in percentage points, with its sign."""
    value = 100 * difference
    if math.isclose(value, 0.0, abs_tol=0.05):
        value = 0.0
    text = f"{value:+.1f}".replace("-", "−")
    if lang != "en":
        text = text.replace(".", ",")
    unit = {"fi": "%-yks.", "sv": "procentenheter", "en": "pp"}[lang]
    return f"{text} {unit}"


def weeks(duration: float, lang: str) -> str:
    """A length in weeks."""
    n = f"{duration:g}" if lang == "en" else f"{duration:g}".replace(".", ",")
    return ui("weeks", lang, n=n)


def _list(values: tuple[str, ...], field_name: str, lang: str) -> str:
    return ", ".join(value_label(field_name, v, lang).lower() for v in values)


def limit_lines(limits: ServiceLimits, lang: str) -> list[str]:
    """Who may take a service, one plain sentence per limit (empty: open to everyone)."""
    i = _INDEX[lang]
    lines: list[str] = []
    if limits.min_age is not None and limits.max_age is not None:
        lines.append(
            (
                f"Ikä {limits.min_age}–{limits.max_age} vuotta",
                f"Ålder {limits.min_age}–{limits.max_age} år",
                f"Aged {limits.min_age} to {limits.max_age}",
            )[i]
        )
    elif limits.min_age is not None:
        lines.append(
            (
                f"Vähintään {limits.min_age}-vuotias",
                f"Minst {limits.min_age} år",
                f"Aged {limits.min_age} or over",
            )[i]
        )
    elif limits.max_age is not None:
        lines.append(
            (
                f"Enintään {limits.max_age}-vuotias",
                f"Högst {limits.max_age} år",
                f"Aged {limits.max_age} or under",
            )[i]
        )
    if limits.foreign_language_only:
        lines.append(
            (
                "Vieraskielisille tai maahanmuuttajille",
                "För främmandespråkiga eller invandrare",
                "For foreign-language speakers or immigrants",
            )[i]
        )
    if limits.min_unemployment_months:
        n = limits.min_unemployment_months
        lines.append(
            (
                f"Vähintään {n} kk työttömänä",
                f"Minst {n} månader arbetslös",
                f"At least {n} months unemployed",
            )[i]
        )
    if limits.reduced_work_ability_only:
        lines.append(
            (
                "Osatyökykyisille",
                "För personer med partiell arbetsförmåga",
                "For partial work ability",
            )[i]
        )
    if limits.business_plan_required:
        lines.append(
            ("Liiketoimintasuunnitelma vaaditaan", "Affärsplan krävs", "A business plan is needed")[
                i
            ]
        )
    if limits.entrepreneurship_interest_required:
        lines.append(
            (
                "Kiinnostus yrittäjyyteen",
                "Intresse för företagande",
                "Some interest in entrepreneurship",
            )[i]
        )
    if limits.requires_barrier:
        names = ", ".join(field_label(flag, lang).lower() for flag in limits.requires_barrier)
        lines.append(
            (f"Jokin seuraavista: {names}", f"Något av följande: {names}", f"One of: {names}")[i]
        )
    for key, field_name in (
        ("labour_market_statuses", "labour_market_status"),
        ("unemployment_benefits", "unemployment_benefit"),
        ("education_levels", "education_level"),
    ):
        allowed: tuple[str, ...] = getattr(limits, key)
        if allowed:
            lines.append(f"{field_label(field_name, lang)}: {_list(allowed, field_name, lang)}")
    if limits.max_language_level is not None:
        level = value_label("language_level", limits.max_language_level, lang)
        lines.append(
            (
                f"Suomen tai ruotsin taito enintään {level}",
                f"Kunskaper i finska eller svenska högst {level}",
                f"Finnish or Swedish at most {level}",
            )[i]
        )
    return lines


def missing_texts() -> list[str]:
    """Keys of enum values without a word in some language (empty when complete)."""
    gaps = [
        f"{name}={value}"
        for name, values in ENUM_VALUES.items()
        for value in values
        if value not in VALUES.get(name, {})
    ]
    return gaps
