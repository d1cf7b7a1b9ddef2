"""Find complainants in offence wording, so the intake gate can pseudonymise them.

Court lists carry the charge's wording, and the wording often names the complainant::

    On 01/03/2024 at Rochdale intentionally touched a girl under 16, namely Jane SMITH, ...
    assaulted Ann Brown by beating her.  Contrary to section 39 of the Criminal Justice Act 1988.

`extract(wording)` returns an `Extraction`: the wording with every identifying span (a name,
initials, a label such as "Child A", an officer's collar number) replaced by a placeholder
``[complainant:N]`` (N = index of the mention in ``mentions``), the `Mention` list (kind,
transient cleartext identity, coarse descriptor, rule, span) and ``unparsed``: cues that look
like a person reference the rules could not resolve, reported by rule and *shape* only
("namely:x x" for "namely mrs smith"), never as text.  The intake gate (``ingest.gate``) turns
each mention into a keyed token and rewrites the placeholders to ``[complainant:<token prefix>]``.

Method
    The rules are data: `RULES` is a table of named regular expressions, each a *cue* (a trigger
    word or shape) followed by a name pattern, and the candidate a rule matches is then checked
    in Python against small lexicons (stop words, organisations, places, things, statutes,
    calendar, police ranks, offence vocabulary).  Rules are never run over the whole wording:
    two cheap passes say where they can apply, and each rule is matched *anchored* there.

    1. *Strong* cue words ("namely", "assaulted", "complainant", "girl" ...) are found by one
       C-level set intersection of the wording's words with all their spellings ("namely,").
    2. Everything else needs a capital letter, so the wording is copied with every capital
       turned into ``#`` (one byte-table translation, offsets unchanged); then "weak cue before a
       capital" (" of #", " to #"), ALL-CAPS words ("##") and dotted initials ("#.#.") are plain
       searches.  ALL-CAPS wordings, where that trick says nothing, take a slower per-word path.

    ====================== ========= ===================================================
    rule                   kind      matches (example)
    ====================== ========= ===================================================
    complainant_field      named     "Complainant: Jane SMITH", "Victim: Ann Brown"
    label                  initials  "Child A", "complainant AB", "Girl 2", "victim X"
    complainant_named      named     "the complainant Jane SMITH", "injured party J.S."
    namely                 named     "namely Jane SMITH", "namely SMITH, Jane", "namely J.S."
    officer                named     "PC 1234 Smith", "Police Constable Ann BROWN", "DC 567"
    verb_object            named     "assaulted Ann Brown", "to touch Jane", "robbed Mr Lee"
    belonging_to           named     "a phone belonging to Jane SMITH"
    harm_to                named     "actual bodily harm to Jane Smith", "injury upon ..."
    activity_with          named     "sexual activity with Jane SMITH"
    sent_to                named     "sent to Jane Smith a letter which conveyed a threat"
    to_from                named     "from/to/for/with/by/as/that Jane Smith": known forename
                                     or register style only (2+ words)
    against, upon,         named     "an assault on Jane Smith", "harassment of Jane Smith",
    towards, on, of                  "in the presence of ..." (2+ words)
    register_name          named     "Jane SMITH", "Jane Mary SMITH" anywhere
    register_surname_first named     "SMITH, Jane" anywhere
    initials_anywhere      initials  "unlawfully killed S.F." (dotted; "U.K.", "H.M.P." ... not)
    described              described "a girl under 16", "a female aged 14", "a 14 year old boy",
                                     "a child under 13", "a person under 18"
    ====================== ========= ===================================================

    Strong cues accept a one-word name ("assaulted Smith"); weak cues need two words, because
    "on Monday" and "of Rochdale" are everywhere; the weakest ("to", "from", "for", "with", "by",
    "as", "that") also need a first word in `FORENAMES_EW` or the variant table, or register
    casing ("Jane SMITH").  Names are taken as registers write them -- "Jane SMITH", "Jane Mary
    SMITH", "SMITH, Jane", "Jane Smith", "Mohammed AL-HASSAN", "Siobhan O'NEILL", "Mr J. SMITH",
    "al-Hassan", "de la Cruz" -- up to six words, cut at the first stop word ("by", "contrary",
    "at" ...), possessive "'s" dropped.  After a name, ", and <Name>" continues the list.  A name
    next to a description ("a girl under 16, namely Jane SMITH") is one mention carrying the
    descriptor; a description alone is a ``described`` mention with no identity.  Descriptions
    are not redacted: they are the offence's legal element (the disclosure gate decides what of
    the wording a reader sees).  The same name twice in one wording is one mention with two spans.

Decisions
    * Places stay.  "at", "in", "near", "within" are not cues, so "at Rochdale in the county of
      Greater Manchester" is never touched; a candidate holding a place word ("on Oxford Road",
      "of Greater Manchester", "to Milton Keynes" -- no known forename) is rejected.
    * Statutes, dates, amounts stay: legal words ("Act", "section", "Class", "... (Offences)
      Act"), weekdays and holidays, digits and currency never form names.
    * Organisations are not persons: a candidate with an organisation marker ("Ltd", "PLC",
      "Stores", "Council", "Police", "NHS", "... and Spencer PLC", a retailer such as "Tesco") is
      left in clear and yields no mention ("a mobile phone belonging to Tesco Stores Ltd").
      Things named after "namely" (vehicles, drugs, brands: "namely Ford Focus", "namely
      Cocaine") likewise.
    * Police officers (and other emergency workers) assaulted or obstructed on duty are
      complainants: "PC 1234 Smith" keeps the rank (not identifying, useful for analysis) and
      loses the collar number and name, "assaulted PC [complainant:N]".  A collar number alone is
      an ``initials``-kind identifier.  An officer named in any other role ("when required to do
      so by PC 1234 Smith") is a witness: left as written, and no complainant -- otherwise one
      officer would "link" every driver they breathalysed.
    * Co-defendants are not complainants: a name right after "jointly with", "together with",
      "defendant" or "accused" is left alone (it is a defendant's identity, governed as such).
    * Initials and labels ("J.S.", "Child A") are kind ``initials``; the gate scopes their tokens
      to the case, since "Child A" in two cases are two children.
    * Defendant clauses are not complainants: "being a person aged 18 or over", "being a person
      under 18"; "a man", "a person" with no age are too vague to count.

Limits (measured, see the report of the issue for the figures)
    * Title-case names after the weakest cues are found only when the forename is known ("made a
      false representation to Roy Harris" is missed); title-case names with no cue at all are
      missed; register style ("Roy HARRIS", "HARRIS, Roy") is caught anywhere.  All-lower-case
      names are not found ("namely jane smith"); after "namely" and "complainant" such text is
      reported in ``unparsed`` when it starts with a title.
    * ALL-CAPS wording loses the case signal: names are still cut at stop words and checked
      against the lexicons, but a common word right after a strong cue can be redacted.
    * Surnames that are place words after weak cues ("on Jane Road") are kept in clear; brand or
      place names shaped like people ("namely John Lewis", "to Victoria Park") are redacted.
    * Relationship words ("his daughter"), schools and addresses are not identities here; the
      disclosure gate deals with jigsaw identification.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter
from typing import Callable, Mapping

from ..governance.pseudonym import load_name_variants

# ------------------------------------------------------------------------------ character classes


def _class(pred: Callable[[str], bool]) -> str:
    """A regex character class of the Latin letters (U+0000..U+024F) satisfying ``pred``."""
    ranges: list[tuple[int, int]] = []
    for i in range(0x250):
        if pred(chr(i)):
            if ranges and ranges[-1][1] == i - 1:
                ranges[-1] = (ranges[-1][0], i)
            else:
                ranges.append((i, i))
    parts = [re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges]
    return "[" + "".join(parts) + "]"


UP = _class(str.isupper)
LO = _class(str.islower)
LETTER = r"[^\W\d_]"
APOS = "'\u2019"

# A word of a name: "Jane", "SMITH", "O'NEILL", "AL-HASSAN", "Smith-Jones", "McDonald", "al-Hassan",
# or an initial "J." / "J".
_WORD = (rf"(?:{UP}\.|{UP}{LETTER}*(?:[{APOS}\-]{LETTER}+)*|(?:al|el|ul|ud)-{UP}{LETTER}*)")
_PARTICLE = r"(?:de|da|di|del|della|du|la|le|van|von|der|den|ter|bin|ibn|binti|bint|al|el|dos|das)"
_TITLE = r"(?:(?i:mr|mrs|miss|ms|mx|dr|master|mister|sir|dame|lady|lord|rev|revd|prof)\.?\s+)"
# separator between words: whitespace, or nothing after an initial's dot ("J.S.")
_SEP = r"(?:\s+|(?<=\.)(?=[^\W\d_]))"
_CAPS = rf"(?:{UP}(?:[{APOS}\-]?{UP})+)"      # SMITH, O'BRIEN, AL-HASSAN
NAME = (
    rf"(?:{_CAPS}(?:\s+{_CAPS}){{0,2}},\s+{_TITLE}?{UP}{LO}+(?:\s+{UP}{LO}+){{0,2}}"   # SMITH, Jane Mary
    rf"|{_TITLE}?{_WORD}(?:{_SEP}(?:{_PARTICLE}\s+){{0,2}}{_WORD}){{0,5}})"                   # Jane Mary SMITH
)
_OPEN = r"(?:\s*[\"'\u2018\u201c])?\s*"          # an optional opening quote before a name
_SAID = r"(?:(?i:the\s+)?(?i:said)\s+)?"           # "assaulted the said Jane SMITH"

# verbs whose object is the complainant (past and base forms: "assaulted X", "attempted to touch X")
_VERBS = ("assaulted|assault|touched|touch|raped|rape|robbed|rob|wounded|wound|threatened|threaten|"
          "harassed|harass|stalked|stalk|penetrated|penetrate|kidnapped|kidnap|attacked|attack|strangled|"
          "strangle|suffocated|suffocate|kicked|kick|punched|punch|struck|strike|bit|bite|pushed|push|"
          "grabbed|grab|stabbed|stab|slapped|slap|headbutted|headbutt|detained|detain|abducted|abduct|"
          "imprisoned|imprison|groomed|groom|coerced|coerce|controlled|blackmailed|blackmail|defrauded|"
          "defraud|deceived|deceive|incited|incite|caused|cause|procured|procure|killed|kill|murdered|"
          "murder|injured|injure|ill-treated|neglected|abandoned|exploited|exploit|trafficked|held|"
          "required|met|meet|photographed|filmed|recorded|observed|persuaded|persuade|encouraged|"
          "encourage|arranged|frightened|intimidated|intimidate|pursued|followed|contacted|contact|"
          "protect|protecting|obstructed|obstruct|resisted|resist|showed|show|shows|depicting|depicted")

_RANKS = (r"P\.C\.|D\.C\.|P\.S\.|D\.S\.|"
          r"PC|DC|PS|DS|DI|DCI|PCSO|Sgt|SGT|Sergeant|SERGEANT|Police\s+Constable|POLICE\s+CONSTABLE|"
          r"Detective\s+Constable|DETECTIVE\s+CONSTABLE|Constable|CONSTABLE|Inspector|INSPECTOR|Insp")

_NOUNS = (r"young\s+person|female\s+child|male\s+child|female\s+person|male\s+person|girl|boy|child|"
          r"female|male|woman|man|person|juvenile|minor|youth")


@dataclass(frozen=True, slots=True)
class Rule:
    """One extraction rule: a named pattern and the cue words that trigger it.

    ``anchor`` says where the pattern is matched: ``cue`` -- at the cue word (the pattern starts
    with it); ``noun`` -- a description around the cue noun ("a girl under 16" from "girl");
    ``caps`` -- a register-style name ending in an ALL-CAPS word.  ``name_next``: only try when
    the cue is followed by a capital, a quote or "(the) said" (most cue words are followed by
    ordinary lower-case text, and this check is far cheaper than a regex).  Groups: ``name``,
    ``label``, ``rank``/``collar``/``name2`` (officers), ``noun``/``age``/``age_pre``/``qual``/
    ``over`` (descriptions).  ``link``: words that join the cue to the name ("belonging *to*"),
    skipped by the cheap check.
    """

    name: str
    kind: str            # named | initials | described
    strength: str        # strong | weak | register | label | officer | described
    cues: tuple[str, ...]
    pattern: str
    example: str
    anchor: str = "cue"
    name_next: bool = False
    link: tuple[str, ...] = ()   # connector words between cue and name ("belonging *to*")


_V = _VERBS.split("|")
RULES: tuple[Rule, ...] = (
    Rule("complainant_field", "named", "strong", ("complainant", "victim", "injured", "aggrieved"),
         rf"(?i:complainant|victim|injured\s+party|aggrieved)\s*:{_OPEN}(?P<name>{NAME})",
         "Complainant: Jane SMITH"),
    Rule("label", "initials", "label", ("child", "complainant", "victim", "girl", "boy", "person", "witness"),
         rf"(?i:child|complainant|victim|girl|boy|person|witness)\s+(?P<label>[A-Z]{{1,3}}|\d{{1,2}})(?![\w{APOS}.\-])",
         "Child A / complainant AB / Girl 2"),
    Rule("complainant_named", "named", "strong", ("complainant", "victim", "injured"),
         rf"(?i:complainant|victim|injured\s+party)\s*,?{_OPEN}(?P<name>{NAME})",
         "the complainant Jane SMITH", name_next=True),
    Rule("namely", "named", "strong", ("namely",),
         rf"(?i:namely)\s*[,:]?{_OPEN}(?P<name>{NAME})",
         "namely Jane SMITH / namely SMITH, Jane / namely J.S.", name_next=True),
    Rule("officer", "named", "officer",
         ("pc", "dc", "ps", "ds", "di", "dci", "pcso", "sgt", "sergeant", "police", "detective", "constable",
          "inspector", "insp", "p.c.", "d.c.", "p.s.", "d.s."),
         rf"(?P<rank>{_RANKS})\.?\s+(?:(?P<collar>\d{{1,6}})(?:\s+(?P<name>{NAME}))?|(?P<name2>{NAME}))",
         "PC 1234 Smith / Police Constable Ann BROWN / DC 567"),
    Rule("verb_object", "named", "strong", tuple(_V),
         rf"(?i:{_VERBS})\s*,?\s+{_SAID}{_OPEN}(?P<name>{NAME})",
         "assaulted Ann Brown / touched Jane SMITH", name_next=True),
    Rule("belonging_to", "named", "strong", ("belonging", "owned"),
         rf"(?i:belonging\s+to|owned\s+by)\s+{_SAID}{_OPEN}(?P<name>{NAME})",
         "a phone belonging to Jane SMITH", name_next=True, link=("to", "by")),
    Rule("harm_to", "named", "strong", ("harm", "injury", "injuries", "violence"),
         rf"(?i:harm|injury|injuries|violence)\s+(?i:to|upon|on|against)\s+{_SAID}{_OPEN}(?P<name>{NAME})",
         "actual bodily harm to Jane Smith", name_next=True, link=("to", "upon", "on", "against")),
    Rule("activity_with", "named", "strong", ("activity", "intercourse", "contact", "penetration"),
         rf"(?i:activity|intercourse|contact|penetration)\s+(?i:with)\s+{_SAID}{_OPEN}(?P<name>{NAME})",
         "sexual activity with Jane SMITH", name_next=True, link=("with",)),
    Rule("sent_to", "named", "strong", ("sent",),
         rf"(?i:sent)\s+(?i:to)\s+{_SAID}{_OPEN}(?P<name>{NAME})",
         "sent to Jane Smith a letter which conveyed a threat", name_next=True, link=("to",)),
    Rule("to_from", "named", "forename", ("to", "from", "for", "with", "by", "as", "that"),
         rf"(?i:to|from|for|with|by|as|that)\s*,?\s+{_SAID}{_OPEN}(?P<name>{NAME})",
         "stole a handbag from Jane Smith (known forename or register style only)", name_next=True),
    Rule("against", "named", "weak", ("against",), rf"(?i:against)\s+{_SAID}{_OPEN}(?P<name>{NAME})",
         "against Jane Smith", name_next=True),
    Rule("upon", "named", "weak", ("upon",), rf"(?i:upon)\s+{_SAID}{_OPEN}(?P<name>{NAME})",
         "upon Jane Smith", name_next=True),
    Rule("towards", "named", "weak", ("towards", "toward"), rf"(?i:towards?)\s+{_SAID}{_OPEN}(?P<name>{NAME})",
         "towards Jane Smith", name_next=True),
    Rule("on", "named", "weak", ("on",), rf"(?i:on)\s+{_SAID}{_OPEN}(?P<name>{NAME})",
         "an assault on Jane Smith", name_next=True),
    Rule("of", "named", "weak", ("of",), rf"(?i:of)\s+{_SAID}{_OPEN}(?P<name>{NAME})",
         "harassment of Jane Smith", name_next=True),
    Rule("register_name", "named", "register", (),
         rf"(?<![\w{APOS}\-])(?P<name>{UP}{LO}+(?:\s+{UP}{LO}+){{0,2}}\s+{_CAPS}(?:\s+{_CAPS})?)(?![\w{APOS}\-])",
         "Jane SMITH anywhere", anchor="caps"),
    Rule("register_surname_first", "named", "register", (),
         rf"(?<![\w{APOS}\-])(?P<name>{_CAPS}(?:\s+{_CAPS})?,\s+{UP}{LO}+(?:\s+{UP}{LO}+)?)(?![\w{APOS}\-])",
         "SMITH, Jane anywhere", anchor="caps"),
    Rule("initials_anywhere", "initials", "label", (),
         rf"(?<![\w.])(?P<label>{UP}\.\s?{UP}\.(?:\s?{UP}\.)?)(?![\w.])",
         "unlawfully killed S.F. (dotted initials, common abbreviations excepted)", anchor="dots"),
    Rule("described", "described", "described",
         ("young", "female", "male", "girl", "boy", "child", "woman", "man", "person", "juvenile", "minor", "youth"),
         rf"\b(?i:an?)\s+(?:(?P<age_pre>\d{{1,2}})[\s\-]*(?i:years?|yr)[\s\-]*(?i:old)\s+)?"
         rf"(?P<noun>(?i:{_NOUNS}))"
         rf"(?:\s+(?P<qual>(?i:aged\s+under|aged|under\s+the\s+age\s+of|under|of))\s+(?P<age>\d{{1,2}})"
         rf"(?:\s+(?i:years?)(?:\s+(?i:of\s+age|old))?)?)?(?!\w)(?P<over>\s+(?i:or|and)\s+(?i:over|more|above))?",
         "a girl under 16 / a female aged 14 / a 14 year old boy", anchor="noun"),
)


# ------------------------------------------------------------------------------------- lexicons
# all compared casefolded, apostrophes removed

STOP = frozenset("""
a an the and or nor but by at in on of to from for with without within into onto upon near off
contrary who whom whose which that this these those being was were is are be been did does do had
has have having not no when whilst while where after before during between under over aged age as
so then thereby causing intending knowing namely her his him hers she he they them their it its you
your we our us i me my such other another said same year years old against towards toward via per
section sect there here also if whether than both either each every any all some
""".split())

ORG = frozenset("""
ltd limited plc llp llc inc cic company stores store superstore supermarket supermarkets council
constabulary police nhs trust hospital school academy college university services bank building
group holdings partnership association society club foundation charity hotel restaurant cafe
pub shop centre center station airport railway rail transport authority agency department
ministry office court courts prison hmp hmyoi hmrc dvla dwp tfl network motors garage cars taxis
homes housing properties estates trading foods retail pharmacy chemist express extra metro world
direct tesco sainsburys asda morrisons aldi lidl waitrose boots argos primark currys superdrug wilko
iceland greggs mcdonalds poundland halfords selfridges harrods debenhams homebase ikea amazon ebay
starbucks nandos kfc coop cooperative royal
""".split())

#: places: street types and facilities, which are rarely surnames (Park, Lane, Hill, Green, Wood,
#: Field are common surnames and deliberately absent)
PLACE = frozenset("""
road rd street avenue ave drive crescent terrace gardens grove square mews parade precinct estate
mall highway motorway roundabout junction bypass county borough city town village island beach
pier harbour dock quay wharf canal england wales scotland britain british kingdom uk
""".split())

#: area words that make a place when they come first ("West Yorkshire", "Greater Manchester");
#: as a last word they are surnames ("John WEST")
AREA_FIRST = frozenset("""
greater north south east west northern southern eastern western upper lower central metropolitan
mid st saint
""".split())

#: offence vocabulary that is not a surname: stops "caused Grievous Bodily Harm", "THREATENED DAMAGE"
COMMON = frozenset("""
actual bodily harm grievous serious injury injuries wound wounding assault assaults battery beating
damage criminal property money cash goods items item theft burglary robbery fraud fear distress
alarm harassment offence offences offensive weapon weapons knife blade bladed article articles
vehicle vehicles motor car lorry bicycle drug drugs controlled substance substances sexual
activity penetration intercourse images image photograph photographs indecent child children
person persons people public place highway premises dwelling building buildings house home
value worth total amount sum mobile phone telephone laptop computer bag handbag purse wallet
jewellery watch keys key card cards account accounts licence insurance test specimen breath
blood urine alcohol excess speed limit notice threat threats threatening abusive insulting
words behaviour conduct course communication message messages letter letters email emails false
dangerous careless driving disqualified unlawful unlawfully intentional intentionally reckless
recklessly emergency worker workers functions duty duties execution girl girls boy boys woman
women victim victims complainant complainants witness witnesses crime crimes prevention misuse
traffic firearms firearm licensing communications immigration terrorism dogs animals animal welfare
bribery forgery counterfeiting vagrancy evidence sentencing pollution environmental health safety
consumer customs excise explosives poisons wildlife education
""".split())

#: things a "namely" may name: vehicles, drugs, devices, platforms
THING = frozenset("""
ford vauxhall volkswagen vw bmw audi toyota nissan honda peugeot renault citroen fiat kia hyundai
skoda volvo mazda suzuki yamaha kawasaki tesla lexus land range transit iphone ipad samsung apple
galaxy nokia huawei macbook playstation xbox nintendo nike adidas rolex visa mastercard paypal
facebook instagram snapchat whatsapp twitter tiktok youtube messenger telegram cannabis cocaine
heroin diamorphine mdma ketamine amphetamine methamphetamine methadone spice crack ecstasy lsd
diazepam tramadol morphine fentanyl cannabinoid
""".split())

LEGAL = frozenset("""
act acts section sections schedule regulations regulation order orders bylaw byelaw statute code
class part article directive rules crown magistrates justice offences criminal sexual protection
""".split())

CALENDAR = frozenset("""
monday tuesday wednesday thursday friday saturday sunday christmas easter boxing whitsun halloween
hallowe'en holiday january february july september october november december year years
""".split())

RANK = frozenset("pc dc ps ds di dci dsi pcso sgt sergeant constable inspector insp detective "
                 "officer superintendent chief".split())

ACRONYMS = frozenset("uk gb gbp usd eu cctv nhs cps hmp hmrc dvla dwp pnc asn urn tv dvd cd atm id "
                     "mdma lsd ghb abh gbh dna sms mms pin sim usb gps rta ltd plc llp".split())

#: common forenames in England and Wales, curated by hand (several generations and communities;
#: spelling variants come from the shared variant table).  Gate for the weakest cues only
#: ("to", "from", "for", "with"), so a place such as "to Milton Keynes" is not taken for a person;
#: forenames that are also place or street words in wording (Stanley, Milton, Preston, Lincoln,
#: Victoria is kept: "Victoria Street" is caught by the place lexicon) are left out.
FORENAMES_EW = frozenset("""
aaron abbie abdul abigail adam adrian agnieszka ahmed aidan ailsa aisha alan albert alex alexander
alexandra alfie alice alicia alison amanda amber amelia amir amy ana andrea andrew andrzej angela
ann anna anne annette anthony antonio arjun archie arthur asha ashley aubrey austin ava barbara barry
beatrice ben benjamin bernard beth bethany beverley bilal billy blessing bogdan brandon brenda brian
bridget bronwen caitlin callum cameron carl carla carly carol caroline carys catherine charles
charlene charlie charlotte chelsea cheryl chidi chinedu chloe christina christine christopher claire
clara colin connor craig cristina daisy dale damian daniel danielle darren david dawn dean debbie
deborah declan denise dennis derek diana diane dominic donna dorota dorothy douglas dylan edward
eileen elaine eleanor elena elizabeth ella ellie emily emma eric erin esther ethan eve evelyn ewa
faith farah fatima fiona florence francesca frank freddie frederick freya gabriel gareth gary gavin
gemma geoffrey george georgia gerald gillian gloria gordon grace graham gregory gurpreet hamza
hannah harjit harold harriet harry harvey hayley heather helen henry hollie holly hugh iain ian
ibrahim imogen imran ioana irene isaac isabel isabella isla ivan jack jackie jacob jacqueline jade
jake james jamie jan janet janice jasmine jason jasvinder jayden jean jeffrey jennifer jeremy jessica
jill joan joanna joanne jodie joe joel john jonathan jordan joseph josephine joshua joyce judith julia
julian julie justin kamal kamran karen kasia katarzyna kate katie kayleigh keith kelly kenneth kerry
kevin kieran kirsty krzysztof kulwinder kyle lakshmi laura lauren leah lee leigh leo leon leslie
lewis liam lily linda lindsay lisa logan lorraine louis louise lucas lucy luke lydia lynn lynne
madison maisie malcolm mandeep marcin marcus margaret maria marian marie marion mark martin martyna
mary mason matthew maureen max maya megan melanie melissa mia michael michelle mihai mohammed molly
monica muhammad nadia naomi natalie natasha nathan neil niamh nicholas nicola nicole nigel noah
noor norman oliver olivia oscar owen paige pamela patricia patrick paul paula pauline pawel peter
philip phoebe piotr poppy priya rachel rahul rajesh ravi rebecca rhys richard rita robert robin
rosie ross ruby russell ruth ryan sabrina sadia safia sally samantha samuel sandra sanjay sara sarah
scarlett scott sean shabana shane shannon sharon shaun sheila shirley siobhan simon sinead sonia
sophia sophie stacey stefan stephanie stephen steven stuart susan suzanne sylvia tahir tanya tariq
teresa terence theo theresa thomas timothy tina tobias toby tom tomasz tracey trevor tyler usman
valerie vanessa vera victor victoria vincent wayne wendy william yasmin yusuf zainab zara zoe zofia
abdullah adeel adil aled alfred alistair allan alun amelie amrit andy angus anita anjali anthea ashraf
audrey ayesha barney basil bernadette beryl bethan betty bradley brendan bruce bryony calvin candice
carmen cecilia cerys chantelle charlene chris christian clifford clive conrad cyril damon dara dennis
derrick desmond dilys donald duncan dwayne eamon edith edwin eleri elliot elliott elsie emeka enid
ernest euan evan faisal felicity felix fraser gail gemma geraint gerard gethin gilbert glenn glenys
godfrey gwen gwyneth hamish harriet hassan hazel herbert howard hussain idris ifeoma imelda irfan
iris ivor jacqui jagdeep jasmin jayne jenna jeremiah jesse jim joanne jocelyn josh joy julius kaitlyn
kamala karl kathleen kathryn katrina kay keeley kerrie khadija kim kirsten kristina kwame lance
lara lawrence layla leanne leona lesley lloyd lorna lorenzo luca luke lyndon mabel maddison magdalena
mairead malik mandy marcel marek margery marjorie marlon martha martyn matilda maurice mavis maxine
meera melvyn mercy mervyn miriam mohamed moira monique morgan muriel nasreen ned neville nia nikita
nina noel norah olga oluwaseun omar oonagh osman patience pearl penelope percy philippa phyllis
polly precious quentin rafael raheem rajinder ramesh raymond reece reginald rhian rhiannon ricky
rita rob roberta rodney roger roisin ronald rory rosemary roxanne rupert sadie saima salma sameer
samir sana seamus sebastian selina shahid shakira shazia sheldon shirin sian sidney sofia sonya
stella sukhwinder summer sunil tamsin tara terry tessa thelma tiffany tilly tracy tristan troy una
ursula vernon veronica vikram violet wallace walter warren wesley wilfred winston winifred yvonne
zahid zak zoltan
""".split())
_FORENAMES = FORENAMES_EW | set(load_name_variants()) | set(load_name_variants().values())

#: one lookup per word: lexicon categories that reject a candidate wherever the word stands
#: ("place" only rejects names not written register-style), and those that count as first word
_LEX_ANY: dict[str, str] = {
    **{w: "place" for w in PLACE}, **{w: "common" for w in COMMON}, **{w: "calendar" for w in CALENDAR},
    **{w: "legal" for w in LEGAL}, **{w: "org" for w in ORG | ACRONYMS},
}
_LEX_FIRST: dict[str, str] = {**{w: "place" for w in AREA_FIRST}, **{w: "thing" for w in THING},
                              **{w: "rank" for w in RANK}}

#: a candidate whose first word is one of these is no person, whatever follows
_REJECT_FIRST = frozenset(STOP | set(_LEX_FIRST) | {w for w, c in _LEX_ANY.items() if c != "place"})
_FIRST_WORD = re.compile(r"[^\W\d_]+")

# ------------------------------------------------------------------------------------- compiled tables

# the rules, compiled and indexed by cue word
_COMPILED: dict[str, re.Pattern] = {r.name: re.compile(r.pattern) for r in RULES}
_ORDER: dict[str, int] = {r.name: i for i, r in enumerate(RULES)}
_RULES_BY_CUE: dict[str, tuple[Rule, ...]] = {}
for _r in RULES:
    for _c in _r.cues:
        _RULES_BY_CUE[_c] = _RULES_BY_CUE.get(_c, ()) + (_r,)
#: what `_candidates` reads of each rule of a cue, looked up once: (rule, table order, compiled
#: pattern, anchored at the cue?, name_next, link)
_PLAN_BY_CUE: dict[str, tuple[tuple[Rule, int, re.Pattern, bool, bool, tuple[str, ...]], ...]] = {
    cue: tuple((r, _ORDER[r.name], _COMPILED[r.name], r.anchor == "cue", r.name_next, r.link) for r in rules)
    for cue, rules in _RULES_BY_CUE.items()}
_POS_ORDER = itemgetter(0, 1)       # candidates by position, then table order
_REGISTER = _COMPILED["register_name"]
_REGISTER_SF = _COMPILED["register_surname_first"]
_REGISTER_SF_RULE = RULES[_ORDER["register_surname_first"]]
_DOTS = _COMPILED["initials_anywhere"]
_DOTS_RULE = RULES[_ORDER["initials_anywhere"]]

# pass 1: strong cue words, as they can appear among whitespace-separated words ("namely,")
_WEAK_CUES = frozenset(c for r in RULES if r.strength in ("weak", "forename") for c in r.cues)
_CUE_CORE: dict[str, str] = {
    pre + w + suf: w
    for w in set(_RULES_BY_CUE) - _WEAK_CUES
    for pre in ("", "(", '"', "'", "\u2018", "\u201c")
    for suf in ("", ",", ".", ":", ";", ")", "'s", "\u2019s", "'", "\u2019", '"', "\u201d")
}
_CUE_VARIANTS = frozenset(_CUE_CORE)
_UNPARSED_CUES = frozenset({"namely", "complainant", "victim", "injured"})

# pass 2: capitals -> "#", line breaks, tabs, double quotes and "(" -> " "; offsets unchanged
_MARK_MAP = {**{c: "#" for c in (chr(i) for i in range(0x250)) if c.isupper()},
             **{c: " " for c in "\n\t\r\"(\u201c\u201d"}}
_MARK_STR = str.maketrans(_MARK_MAP)
_MARK_BYTES = bytes(ord(_MARK_MAP.get(chr(i), chr(i))) for i in range(256))
_WEAK_ALT = "|".join(sorted(_WEAK_CUES, key=len, reverse=True))
_WEAK_MARKED = re.compile(rf" ({_WEAK_ALT}),? +['\u2018]?#")                       # " of #"
_WEAK_SAID_MARKED = re.compile(rf" ({_WEAK_ALT}),? +(?:the +)?said,? +['\u2018]?#")  # " of the said #"
# (each starts with the literal "#", which the regex engine then searches for, and looks behind
# that "#" only where it found one: ``(?<![...])#`` put first would be tried at every position)
_CAPS_MARKED = re.compile(r"#(?<![\w#'\u2019\-]#)(?=['\u2019\-]?#)")            # "SMITH", "O'NEILL"
_DOTS_MARKED = re.compile(r"#(?<![\w#.]#)\. ?#\.")                                # "J.S."
#: dotted abbreviations that are not initials of a person ("P.C." before a number is a rank)
_NOT_INITIALS = frozenset("UK US ID TV HM HMP NHS CPS ABH GBH MOT RTA DNA DVD".split())
_DIGIT_NEXT = re.compile(r"\s*\d")
_OFFICER_VICTIM_HINTS = ("assault", "obstruct", "resist", "wound", "threat", "kick", "punch", "stru", "strik",
                         "bit", "spat", "push", "attack", "headbutt", "harass", "injur", "emergency", "execution")
#: an officer is a complainant only after one of these (within 80 characters)
_OFFICER_VICTIM = re.compile(
    r"(?i:\b(?:assault(?:ed|s)?|obstruct(?:ed)?|resist(?:ed)?|wound(?:ed)?|threaten(?:ed)?|kick(?:ed)?|"
    r"punch(?:ed)?|struck|strike|bit|bite|spat|pushed|attack(?:ed)?|headbutt(?:ed)?|harass(?:ed)?|injur(?:ed|e)|"
    r"emergency\s+worker|constable\s+in\s+the\s+execution)\b)")
_DOTTED_RANKS = frozenset({"pc", "dc", "ps", "ds"})
# ... and its slow twin for ALL-CAPS wording: each capitalised word
_CAPITAL = re.compile(rf"[ \n\t\r\"'\u2018\u201c(]{UP}")
_WEAK_WORDS = _WEAK_CUES | {"said"}
_JOINERS = frozenset((*APOS, "-"))

# is a name next?  ("namely Jane", "belonging to Jane", "of the said Jane", "namely 'Jane'")
_LINK = re.compile(r"[ \t\r\n]+(to|by|upon|on|against|with)(?![\w])")
_SAID_AT = re.compile(r"(?i:(?:the\s+)?said\s+)")
_QUOTES = frozenset("\"'\u2018\u201c(")

# checking a candidate name
_TITLES = frozenset("mr mrs miss ms mx dr master mister sir dame lady lord rev revd prof".split())
_PARTICLES = frozenset(_PARTICLE[3:-1].split("|"))
_WORD_RE = re.compile(rf"{UP}\.|{LETTER}+(?:[{APOS}\-]{LETTER}+)*")
_VOWELS = frozenset("AEIOUY")
_AFTER_HINTS = (" A", " (", "(", " R", " O", " a", " &", "&", " \n", "\n")
_LEGAL_AFTER = re.compile(r"\s*(?:\([^()]{0,40}\)\s*)?(?:Act|ACT|Regulations|REGULATIONS|Order|ORDER|Rules|RULES)\b")
_ORG_AFTER = re.compile(rf"(?:\s*(?:and|&)\s*{UP}[\w{APOS}\-]*)+(?:\s+{UP}[\w{APOS}\-]*)*\s+"
                        r"(?i:plc|ltd|limited|llp|stores|group|company|co)\b")
_NOT_COMPLAINANT_BEFORE = re.compile(
    r"(?i:(?:defendant|accused|co-?accused|co-?defendant|jointly\s+with|together\s+with|in\s+company\s+with)"
    r"[\s,:]*(?:the\s+said\s+|said\s+)?)$")
_FORENAMES_TAIL = re.compile(rf"(?<![\w{APOS}\-])(?:{UP}{LO}+\s+){{1,3}}$")   # "Jane Mary " before SMITH
_CONTINUE = re.compile(rf"(?:\s*,\s*(?i:and\s+)?|\s+(?i:and|&)\s+){_OPEN}(?P<name>{NAME})")

# descriptions
_BEING_BEFORE = re.compile(r"(?i:\bbeing\s+)$")
_NOUN_MAP = {
    "girl": "girl", "female child": "girl", "boy": "boy", "male child": "boy", "child": "child",
    "juvenile": "child", "minor": "child", "young person": "child", "youth": "child", "female": "female",
    "woman": "female", "female person": "female", "male": "male", "man": "male", "male person": "male",
    "person": "person",
}
_MINOR_NOUNS = frozenset({"girl", "boy", "child"})

# assembling mentions; the unparsed report
_MERGE_GAP = re.compile(r"(?i:[\s,;:()\-]*(?:(?:namely|being|who\s+was|who\s+is|that\s+is)[\s,:]*)?)")
_PLACEHOLDER = re.compile(r"\[complainant(?::[0-9a-f]*)?\]")
_CUE_TAIL = re.compile(r"(?:\s+(?i:party))?\s*[,:]?\s*")
_SHAPE_CLASS = str.maketrans({**{c: "X" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
                              **{c: "x" for c in "abcdefghijklmnopqrstuvwxyz"},
                              **{c: "9" for c in "0123456789"}})


# ------------------------------------------------------------------------------------- results

@dataclass(slots=True)
class Mention:
    """One complainant reference in one wording.

    ``identity`` is the cleartext name or initials: transient, for the gate to tokenise, never to
    be stored, logged or printed (it is left out of ``repr``).  ``span`` is the first identifying
    span (for ``described`` mentions: the description); ``spans`` all redacted spans (the same
    name can occur twice in one wording); ``descriptor`` is "girl under 16"-style (age and sex only).
    """

    kind: str
    evidence: str
    span: tuple[int, int]
    identity: str | None = field(default=None, repr=False)
    descriptor: str | None = None
    spans: tuple[tuple[int, int], ...] = ()


@dataclass(slots=True)
class Extraction:
    """Result of `extract`. ``redacted`` holds ``[complainant:N]`` placeholders; `relabel` renders
    it with other labels without re-parsing the text."""

    redacted: str
    mentions: list[Mention]
    unparsed: list[str]
    #: (start, end, mention index) of each placeholder inside ``redacted``
    slots: tuple[tuple[int, int, int], ...] = field(default=(), repr=False)

    def relabel(self, labels: Mapping[int, str]) -> str:
        """``redacted`` with placeholder N rendered as ``[complainant:<labels[N]>]``
        (``[complainant]`` when N has no label)."""
        out, last = [], 0
        for start, end, idx in self.slots:
            out.append(self.redacted[last:start])
            label = labels.get(idx)
            out.append(f"[complainant:{label}]" if label else "[complainant]")
            last = end
        out.append(self.redacted[last:])
        return "".join(out)


# ------------------------------------------------------------------------------------- helpers

def _key(word: str) -> str:
    return word.casefold().replace("'", "").replace("\u2019", "")


def _shape(text: str) -> str:
    """Coarse, non-identifying shape of up to two words: 'Jane' -> 'Xx', "'JS'" -> "'X'"."""
    words = text.split()[:2]
    out = []
    for w in words:
        s = w.rstrip(".,;:")[:12].translate(_SHAPE_CLASS)
        s = "".join(ch if ch in "Xx9" else ("x" if ch.isalpha() else ch) for ch in s)
        out.append(re.sub(r"(.)\1+", r"\1", s))
    return " ".join(out)


def _mark(text: str) -> str:
    """Capitals as "#" (see `_MARK_MAP`), offsets unchanged."""
    try:
        return text.encode("latin-1").translate(_MARK_BYTES).decode("latin-1")
    except UnicodeEncodeError:
        return text.translate(_MARK_STR)


# ------------------------------------------------------------------------------------- names

def _person(text: str, start: int, end: int, strength: str) -> tuple[str, int, int, str] | str:
    """Validate the candidate name ``text[start:end]``.

    Returns ``(kind, start, end, identity)`` for a person (the span includes a leading title), or
    a rejection reason: ``"stop"`` (nothing name-like left), ``"short"`` (too few words for the
    cue), or a lexicon's name (``"org"``, ``"thing"``, ``"place"``, ``"legal"``, ``"calendar"``,
    ``"rank"``, ``"common"``), meaning "resolved: not a person".
    """
    words = _WORD_RE.findall(text, start, end)
    i = 0
    while i + 1 < len(words) and words[i].lower().rstrip(".") in _TITLES:
        i += 1
    body: list[str] = []
    keys: list[str] = []
    for w in words[i:]:
        k = w.lower()
        if "'" in k or "\u2019" in k:
            if k.endswith(("'s", "\u2019s")):                 # possessive: "Smith's" -> "Smith"
                w, k = w[:-2], k[:-2]
            k = k.replace("'", "").replace("\u2019", "")
        if k in STOP:
            break
        body.append(w)
        keys.append(k.rstrip("."))
    if not body:
        return "stop"
    if len(body) == 2 and (body[0][0] + body[1][0]).lower() in _DOTTED_RANKS and _DIGIT_NEXT.match(text, end):
        return "rank"                                       # "P.C. 1234": an officer, see the officer rule
    place = False
    for k in keys:
        cat = _LEX_ANY.get(k)
        if cat is not None:
            if cat != "place":
                return cat
            place = True
    cat = _LEX_FIRST.get(keys[0])
    if cat is not None and cat != "place":
        return cat
    upper = [len(w.rstrip(".")) > 1 and w.isupper() for w in body]
    register_cased = any(upper) and not all(upper)        # "Jane SMITH": how registers write people
    if cat == "place" and not (register_cased and body[0].isupper()):
        return "place"                                      # "Greater Manchester", "North Wales"
    if place and not register_cased:
        return "place"
    real = sum(1 for k in keys if k not in _PARTICLES)
    if not real:
        return "stop"
    if strength in ("weak", "forename") and real < 2:
        return "short"
    if strength == "forename" and not register_cased and keys[0] not in _FORENAMES:
        return "short"                                      # "to Milton Keynes": not a known forename
    if strength == "register" and not register_cased:
        return "short"
    # initials: every word a single letter ("J.S.", "J S"), or one all-capital word of two
    # letters, or of three without a vowel ("JS", "AB", "JMS")
    one = body[0].rstrip(".")
    if all(len(w.rstrip(".")) == 1 for w in body) or (len(body) == 1 and one.isupper() and (
            len(one) == 2 or (len(one) == 3 and not _VOWELS & set(one)))):
        kind = "initials"
    else:
        kind = "named"
    # offsets, now that the name is accepted
    offsets, p = [], start
    for w in words[:i + len(body)]:
        p = text.find(w, p)
        offsets.append(p)
        p += len(w)
    first_s = offsets[i]
    last_e = offsets[-1] + len(body[-1])                   # a dropped possessive stays outside
    if text.startswith(_AFTER_HINTS, last_e):
        if _LEGAL_AFTER.match(text, last_e):
            return "legal"                                 # "Emergency Workers (Offences) Act"
        if _ORG_AFTER.match(text, last_e):
            return "org"                                   # "Marks and Spencer PLC"
    return kind, offsets[0], last_e, text[first_s:last_e]


def _descriptor(m: re.Match, text: str) -> str | None:
    """The coarse descriptor of a description match, or None when it is not a complainant."""
    if m.group("over"):
        return None                                  # "a person aged 18 or over": the defendant
    if _BEING_BEFORE.search(text, max(0, m.start() - 12), m.start()):
        return None                                  # "being a person under 18": the defendant
    noun = _NOUN_MAP[" ".join(m.group("noun").lower().split())]
    age = m.group("age") or m.group("age_pre")
    if age is None:
        return noun if noun in _MINOR_NOUNS else None   # "a man", "a person": too vague to count
    word = "under" if "under" in (m.group("qual") or "").lower() else "aged"
    return f"{noun} {word} {int(age)}"


# ------------------------------------------------------------------------------------- scanning

def _name_start(text: str, j: int) -> int:
    """After a cue ending at ``j``: where a name could start (a capital, a quote, "(the) said"),
    or -1."""
    n = len(text)
    while j < n and text[j] in " \t\r\n,:":
        j += 1
    if j >= n:
        return -1
    said = _SAID_AT.match(text, j)
    if said:
        j = said.end()
    c = text[j:j + 1]
    return j if c and (c.isupper() or c in _QUOTES) else -1


def _lower(text: str) -> str:
    """Lower case with offsets preserved (a few characters lower-case to two, e.g. U+0130)."""
    low = text.lower()
    if len(low) != len(text):
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    return low


def _initials_at(text: str, c: int, cands: list) -> None:
    """Dotted initials ("S.F.") starting at ``c``, unless a common abbreviation."""
    d = _DOTS.match(text, c)
    label = d.group("label").replace(".", "").replace(" ", "") if d is not None else ""
    if label and label not in _NOT_INITIALS and not (
            label.lower() in _DOTTED_RANKS and _DIGIT_NEXT.match(text, d.end())):      # "P.C. 1234"
        cands.append((c, _ORDER["initials_anywhere"], _DOTS_RULE, d))


def _weak_cue_before(low: str, e: int, starts: list) -> None:
    """The weak cue word ending at ``e`` (already known to be one), past "(the) said"."""
    base = max(0, e - 32)
    seg = low[base:e].rstrip(",")
    k = max(seg.rfind(" "), seg.rfind("\n"), seg.rfind("\t"))
    word = seg[k + 1:]
    if word == "said":                                      # "of the said Jane SMITH"
        seg = seg[:k + 1].rstrip()
        if seg.endswith("the") and (len(seg) == 3 or seg[-4] in " \t\r\n"):
            seg = seg[:-3].rstrip()
        k = max(seg.rfind(" "), seg.rfind("\n"), seg.rfind("\t"))
        word = seg[k + 1:]
    if word in _WEAK_CUES:
        starts.append((base + k + 1, word))


def _candidates(text: str) -> tuple[list, list[tuple[int, str]], list[int], list[int]]:
    """Every rule match anchored at a cue, sorted by position then table order; the ends of the
    cues the unparsed report looks at; where a candidate was rejected on its first word; and the
    starts of ALL-CAPS words (for register-style names).

    Two cheap passes decide what to try (see the module docstring): strong cue words by a set
    intersection with the wording's words; weak cues before a capital, ALL-CAPS words and dotted
    initials by searches in the wording with capitals marked "#".  Rules run only, and anchored,
    where those passes point; a candidate whose first word is a known non-name ("of Greater
    ...", "namely Ford ...") is dropped before any rule runs.
    """
    low = _lower(text)
    n = len(text)
    cands: list[tuple[int, int, Rule, re.Match]] = []
    cue_ends: list[tuple[int, str]] = []
    rejected: list[int] = []
    starts: list[tuple[int, str]] = []
    hits = _CUE_VARIANTS.intersection(low.split())
    if hits:
        for core in {_CUE_CORE[h] for h in hits}:
            i = low.find(core)
            while i >= 0:
                j = i + len(core)
                if (i == 0 or not low[i - 1].isalnum()) and (j == n or not low[j].isalnum()):
                    starts.append((i, core))
                i = low.find(core, j)
    caps: list[int] = []
    marked = _mark(text)
    if marked.count("#") * 3 < len(text):
        # ordinary wording: capitals are "#", so each question is one C-level search
        if "#." in marked:                                  # "S.F.": dotted initials, cue or not
            for d in _DOTS_MARKED.finditer(marked):
                _initials_at(text, d.start(), cands)
        if "##" in marked:                                  # ALL-CAPS words: "SMITH", "O'NEILL"
            caps.extend(m.start() for m in _CAPS_MARKED.finditer(marked))
        for m in _WEAK_MARKED.finditer(marked):             # a weak cue before a capital
            starts.append((m.start(1), m.group(1)))
        if "said" in low:
            for m in _WEAK_SAID_MARKED.finditer(marked):
                starts.append((m.start(1), m.group(1)))
    else:
        # ALL-CAPS wording: look at each capitalised word
        rfind = low.rfind
        for m in _CAPITAL.finditer(text):
            c = m.end() - 1
            nxt = text[c + 1:c + 2]
            if nxt == ".":
                _initials_at(text, c, cands)
            elif nxt.isupper() or (nxt in _JOINERS and text[c + 2:c + 3].isupper()):
                caps.append(c)
            e = c - 1 if text[c - 1] in " \t\r\n" else c - 2   # skip an opening quote
            if e > 0:
                word = low[rfind(" ", 0, e) + 1:e]
                if word in _WEAK_WORDS or word.rstrip(",") in _WEAK_WORDS or (
                        ("\n" in word or "\t" in word) and word.split()[-1].rstrip(",") in _WEAK_WORDS):
                    _weak_cue_before(low, e, starts)
        if text[:1].isupper():
            if text[1:2] == ".":
                _initials_at(text, 0, cands)
            elif text[1:2].isupper() or (text[1:2] in _JOINERS and text[2:3].isupper()):
                caps.append(0)
    named_at: set[int] = set()                      # name starts already tried (strong cues first)
    for i, word in starts:
        end = i + len(word)
        if word in _UNPARSED_CUES:
            cue_ends.append((end, word))
        for rule, order, pattern, at_cue, name_next, link in _PLAN_BY_CUE[word]:
            if at_cue:
                if name_next:
                    j = end
                    if link:                                # "belonging to", "harm upon" ...
                        lk = _LINK.match(low, end)
                        if lk is None or lk.group(1) not in link:
                            continue
                        j = lk.end()
                    j = _name_start(text, j)
                    if j < 0 or j in named_at:
                        continue                            # no name, or "belonging *to* X" again
                    w = _FIRST_WORD.match(low, j)
                    if w is not None and w.group() in _REJECT_FIRST and text[w.end():w.end() + 1] != "." \
                            and not (w.group() in AREA_FIRST and text[j:w.end()].isupper()):
                        rejected.append(j)          # "of Greater ...", "namely Ford ...", "of The ..."
                        continue
                    m = pattern.match(text, i)
                    if m is not None:
                        named_at.add(j)
                else:
                    m = pattern.match(text, i)
            else:                                   # "noun": the description starts before the cue
                m = pattern.search(text, max(0, i - 24), min(n, end + 48))
                if m is not None and m.start("noun") != i:
                    m = None
            if m is not None:
                cands.append((m.start(), order, rule, m))
    cands.sort(key=_POS_ORDER)
    return cands, cue_ends, rejected, caps


def _register_candidates(text: str, caps: list[int], taken: list[tuple[int, int]]) -> list:
    """Register-style names ("Jane SMITH") ending in the ALL-CAPS words starting at ``caps``,
    outside the mentions found so far: the catch-all for names no cue introduced."""
    out = []
    rule = RULES[_ORDER["register_name"]]
    for i in caps:
        if any(s <= i < e for s, e in taken):
            continue                                  # already part of a mention
        t = _FORENAMES_TAIL.search(text, max(0, i - 48), i)
        if t is not None:
            m = _REGISTER.match(text, t.start())
            if m is not None:
                out.append((m.start(), _ORDER[rule.name], rule, m))
                continue
        m = _REGISTER_SF.match(text, i)
        if m is not None:
            out.append((i, _ORDER["register_surname_first"], _REGISTER_SF_RULE, m))
    return out


# ------------------------------------------------------------------------------------- extract

def extract(wording: str) -> Extraction:
    """Find complainant references in one offence wording; see the module docstring."""
    if not wording:
        return Extraction(wording or "", [], [])
    text = wording
    cands, cue_ends, rejected, caps = _candidates(text)
    if not cands and not cue_ends and not caps:
        return Extraction(text, [], [])
    found: list[tuple[str, str, int, int, str | None]] = []   # kind, evidence, start, end, identity
    described: list[tuple[str, int, int, str]] = []           # evidence, start, end, descriptor
    resolved: set[int] = set(rejected)                        # where a rule decided on a candidate
    _resolve(text, cands, found, described, resolved)
    if caps:
        register = _register_candidates(text, caps, [(f[2], f[3]) for f in found])
        if register:
            _resolve(text, register, found, described, resolved, taken=[(f[2], f[3]) for f in found])
    unparsed = _unparsed(text, cue_ends, resolved, found) if cue_ends else []
    if described and "[complainant" in text:
        # a description next to a placeholder of an earlier pass belongs to that mention
        done = [(m.start(), m.end()) for m in _PLACEHOLDER.finditer(text)]
        described = [d for d in described if not any(_gap_ok(text, d[2], s) or _gap_ok(text, e, d[1])
                                                      for s, e in done)]
    if not found and not described:
        return Extraction(text, [], unparsed)
    return _assemble(text, found, described, unparsed)


def _resolve(text: str, cands: list, found: list, described: list, resolved: set,
             taken: list[tuple[int, int]] = ()) -> None:
    """Decide on candidates in order; an accepted mention hides candidates starting inside it."""
    pos = 0
    for start, _, rule, m in cands:
        if start < pos or (taken and any(s <= start < e or start <= s < m.end() for s, e in taken)):
            continue                                          # inside (or over) an accepted mention
        if rule.strength == "described":
            d = _descriptor(m, text)
            if d:
                described.append((rule.name, m.start(), m.end("age") if m.group("age") else m.end("noun"), d))
            continue
        if rule.strength == "label":
            s, e = m.span("label")
            found.append(("initials", rule.name, s, e, m.group("label")))
            resolved.add(s)
            pos = e
            continue
        if rule.strength == "officer":
            pos = max(pos, _officer(m, text, rule, found, resolved))
            continue
        s, e = m.span("name")
        resolved.add(s)
        res = _person(text, s, e, rule.strength)
        if isinstance(res, str):
            continue                                          # not a person; inner candidates may be
        kind, ps, pe, identity = res
        before = text[max(0, ps - 40):ps].lower()
        if ("with" in before or "defendant" in before or "accused" in before) and \
                _NOT_COMPLAINANT_BEFORE.search(before):
            continue                                          # a co-defendant: not ours
        found.append((kind, rule.name, ps, pe, identity))
        pos = pe
        if rule.strength in ("strong", "weak", "forename"):
            pos = _continuation(text, pe, rule, found)


def _officer(m: re.Match, text: str, rule: Rule, found: list, resolved: set) -> int:
    """"assaulted PC 1234 Smith": keep the rank, redact collar number and name.  Only where the
    officer is the victim; "required to do so by PC 1234 Smith" is a witness, not a complainant."""
    resolved.add(m.end("rank"))
    before = text[max(0, m.start() - 80):m.start()].lower()
    if not (any(v in before for v in _OFFICER_VICTIM_HINTS) and _OFFICER_VICTIM.search(before)):
        return 0
    name_g = "name" if m.group("name") else ("name2" if m.group("name2") else None)
    collar = m.span("collar") if m.group("collar") else None
    if name_g:
        res = _person(text, *m.span(name_g), "strong")
        if not isinstance(res, str):
            kind, ps, pe, identity = res
            found.append((kind, rule.name, collar[0] if collar else ps, pe, identity))
            return pe
    if collar:
        rank = " ".join(m.group("rank").split()).upper()
        found.append(("initials", rule.name, collar[0], collar[1], f"{rank} {m.group('collar')}"))
        return collar[1]
    return 0


def _continuation(text: str, pos: int, rule: Rule, found: list) -> int:
    """", Ann Brown and Mary JONES" after an accepted name: more complainants of the same cue."""
    while True:
        c = _CONTINUE.match(text, pos)
        if not c:
            return pos
        res = _person(text, c.start("name"), c.end("name"), "weak")
        if isinstance(res, str):
            return pos
        kind, ps, pe, identity = res
        found.append((kind, rule.name, ps, pe, identity))
        pos = pe


def _unparsed(text: str, cues: list[tuple[int, str]], resolved: set[int], found: list) -> list[str]:
    """Cues ("namely", "complainant") followed by something person-like no rule resolved,
    as "<cue>:<shape>"."""
    out: list[str] = []
    starts = {f[2] for f in found}
    for end, word in cues:
        p = _CUE_TAIL.match(text, end).end()
        if p >= len(text) or {p, p + 1} & (resolved | starts) or text[end - 12:end].lower() == "[complainant":
            continue
        core = text[p:p + 40].split()[0].strip("\"'\u2018\u2019\u201c\u201d([")
        if not core or core[0].isdigit() or core[0] in "£$€":
            continue
        if core[0].islower() and _key(core).rstrip(".") not in _TITLES:
            continue                                  # "namely a mobile phone": property, not a person
        out.append(f"{word}:{_shape(text[p:p + 24])}")
    return out


_START = itemgetter(2)
_SPAN_START = attrgetter("span")


def _assemble(text: str, found: list, described: list, unparsed: list[str]) -> Extraction:
    """Mentions (same name twice = one mention; a description next to a name joins it) and the
    wording with placeholders."""
    if len(found) == 1 and not described:                   # the common case, kept cheap
        kind, evidence, s, e, identity = found[0]
        ph = "[complainant:0]"
        return Extraction(text[:s] + ph + text[e:], [Mention(kind, evidence, (s, e), identity, None, ((s, e),))],
                          unparsed, ((s, s + len(ph), 0),))
    mentions: list[Mention] = []
    if len(found) == 1:
        kind, evidence, s, e, identity = found[0]
        mentions.append(Mention(kind, evidence, (s, e), identity, None, ((s, e),)))
    elif found:
        # dedupe: the same name twice in one wording is one mention with two spans
        found.sort(key=_START)
        by_identity: dict[tuple[str, str], int] = {}
        for kind, evidence, s, e, identity in found:
            key = (kind, " ".join(_key(identity or "").replace(".", " ").split()))
            idx = by_identity.get(key)
            if idx is None:
                by_identity[key] = len(mentions)
                mentions.append(Mention(kind, evidence, (s, e), identity, None, ((s, e),)))
            else:
                mentions[idx].spans += ((s, e),)
    # descriptions: merge with an adjacent named/initials mention, else stand alone
    alone = False
    for evidence, ds, de, descriptor in described:
        target = None
        for mt in mentions:
            if mt.kind == "described" or mt.descriptor is not None:
                continue
            s, e = mt.span
            if _gap_ok(text, de, s) or _gap_ok(text, e, ds):
                target = mt
                break
        if target is not None:
            target.descriptor = descriptor
            target.evidence = f"{target.evidence}+{evidence}"
        else:
            mentions.append(Mention("described", evidence, (ds, de), None, descriptor, ()))
            alone = True
    if alone:
        mentions.sort(key=_SPAN_START)
    # render placeholders
    spans = sorted((s, e, i) for i, mt in enumerate(mentions) for s, e in mt.spans)
    out, slots, last, length = [], [], 0, 0
    for s, e, i in spans:
        if s < last:            # overlapping spans do not arise; if they did, redact their union
            last = max(last, e)
            continue
        piece = text[last:s]
        out.append(piece)
        length += len(piece)
        ph = f"[complainant:{i}]"
        slots.append((length, length + len(ph), i))
        out.append(ph)
        length += len(ph)
        last = e
    out.append(text[last:])
    return Extraction("".join(out), mentions, unparsed, tuple(slots))


def _gap_ok(text: str, a: int, b: int) -> bool:
    if not 0 <= b - a <= 24:
        return False
    m = _MERGE_GAP.fullmatch(text, a, b)
    return m is not None


__all__ = ["Extraction", "Mention", "RULES", "Rule", "extract"]
