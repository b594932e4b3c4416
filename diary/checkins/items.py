"""The check-in items of clinical-rules.md section 3: codes and the patient's words.

The codes are the contract (API, protocol file, stored rows); the words are
what the patient reads, translated by Flask-Babel.
"""
from flask_babel import lazy_gettext as _l

#: graded items, in the order the page asks them
SYMPTOMS: dict[str, object] = {
    "purpura": _l("Red or purple spots on the skin (legs)"),
    "arthralgia": _l("Joint pain"),
    "asthenia": _l("Tiredness / weakness"),
    "myalgia": _l("Muscle aches"),
    "chills": _l("Chills / shivering"),
    "headache": _l("Headache"),
    "nausea": _l("Nausea"),
    "paresthesia": _l("Tingling or numbness in hands or feet"),
    "leg_edema": _l("Swollen legs or ankles"),
    "abdominal_pain": _l("Belly pain"),
    "dyspnea": _l("Shortness of breath"),
    "injection_site_pain": _l("Pain at the injection site"),
}

#: the 5-point severity scale (PRO-CTCAE style)
GRADES: dict[int, object] = {
    0: _l("None"),
    1: _l("Mild"),
    2: _l("Moderate"),
    3: _l("Severe"),
    4: _l("Very severe"),
}
MIN_GRADE, MAX_GRADE = 0, 4

#: warning signs, shown behind "Anything new or unusual?"
WARNING_SIGNS: dict[str, object] = {
    "blood_in_stool": _l("Blood in stools or black stools"),
    "coughing_blood": _l("Coughing up blood"),
    "limb_weakness": _l("New weakness of an arm or leg, foot drop"),
    "confusion": _l("Confusion, fit, loss of speech or sight"),
    "digital_necrosis": _l("Black or very pale fingers or toes"),
    "oliguria": _l("Passing very little urine"),
    "fainting": _l("Fainting or feeling faint"),
    "leg_ulcer": _l("A new sore (ulcer) on the legs"),
    "urine_change": _l("Foamy, dark or bloody urine"),
}

TEMPERATURE_RANGE = (34.0, 43.0)
DIAMETER_RANGE = (0.0, 30.0)
NOTE_MAX = 2000
