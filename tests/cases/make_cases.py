#!/usr/bin/python3
"""Generate the golden cases of tests/cases/ (docs/report-format.md, docs/rules.md, docs/result.md).

Each case is a folder: input.json (the bytes judged), optional rules.rules
(a custom rule set; else the built-in default set), and the binary's full
outputs expected.json and expected.txt (written by regen.py).

The expectations below (verdict, counts, findings as rule/severity/path in
the documented stable order, and some message substrings) were worked out from
the documented contract, not from the implementation: after writing a folder's inputs, the
script runs the binary (regen.py) and refuses, listing the differences, if
its output disagrees with them; the full outputs it writes then pin every
message byte.

    /usr/bin/python3 tests/cases/make_cases.py      # rewrites these folders

EXPENSED overrides the binary, default <repo>/build/expensed. Folders it does
not generate are left alone: a hand-written case is simply another folder
(run regen.py NAME for its expected files).
"""
import copy
import json
import os
import shutil
import sys
from pathlib import Path

import regen

HERE = Path(__file__).resolve().parent
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
EX = Path(os.environ.get("EXPENSED_EXAMPLES",
                         HERE.parents[1] / "examples"))
SEED_BYTES = (EX / "cd13-cp-2019-02-08-r36.json").read_bytes()
GENES_BYTES = (EX / "genes-2017-detail.json").read_bytes()


class Raw:
    """A JSON token written verbatim (e.g. 12.50, 4.0, 1e2)."""

    def __init__(self, text):
        self.text = text


def dumps(doc):
    raws = []

    def walk(v):
        if isinstance(v, Raw):
            raws.append(v.text)
            return "@@RAW%d@@" % (len(raws) - 1)
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    text = json.dumps(walk(doc), indent=2, ensure_ascii=False)
    for i, r in enumerate(raws):
        text = text.replace('"@@RAW%d@@"' % i, r)
    return text + "\n"


def seed():
    return json.loads(SEED_BYTES)


def genes():
    return json.loads(GENES_BYTES)


def F(rule, path, severity="error", contains=None):
    f = {"rule": rule, "severity": severity, "path": path}
    if contains is not None:
        f["message_contains"] = contains
    return f


def W(rule, path, contains=None):
    return F(rule, path, "warning", contains)


def I(rule, path, contains=None):
    return F(rule, path, "info", contains)


CASES = {}


def case(name, data, findings, rules=None, verdict=None):
    assert name not in CASES, name
    if isinstance(data, (dict, list)):
        data = dumps(data).encode("utf-8")
    elif isinstance(data, str):
        data = data.encode("utf-8")
    errors = sum(1 for f in findings if f["severity"] == "error")
    warnings = sum(1 for f in findings if f["severity"] == "warning")
    if verdict is None:
        verdict = "rejected" if errors else "accepted"
    exp = {"verdict": verdict, "errors": errors, "warnings": warnings,
           "findings": findings}
    CASES[name] = (data, rules, exp)


def invalid(name, data, rule, contains=None):
    case(name, data, [F(rule, "", contains=contains)], verdict="invalid")


SEED_WARNINGS = [
    W("ratification.retroactive", "/missions/0/start"),
    W("ratification.retroactive", "/missions/1/start"),
    W("ratification.retroactive", "/missions/2/start"),
    W("cost.per_participant", "/missions/1/cost"),
    W("cost.per_participant_day", "/missions/1/cost"),
]

# ---------------------------------------------------------------- examples
case("example_seed", SEED_BYTES, list(SEED_WARNINGS))
case("example_genes_detail", GENES_BYTES, [])

d = seed()
d["missions"][2]["cost"] = "4272.55"
case("seed_total_mismatch", d,
     [F("total.missions", "/total", contains=["139008.94", "139108.94"])]
     + SEED_WARNINGS)

d = seed()
d["missions"][2]["id"] = "genes-2017"
case("seed_duplicate_mission_id", d,
     [F("missions.unique_id", "/missions/2/id")] + SEED_WARNINGS)

d = seed()
d["missions"][2]["cost"] = "4 372,55"
case("seed_mission_cost_ill_kinded", d,
     [F("schema.mission", "/missions/2/cost")] + SEED_WARNINGS)

d = seed()
d["missions"][0]["end"] = "2017-10-18"
d["missions"][2]["end"] = "2017-12-04"
case("seed_findings_in_rule_order", d,
     [F("dates.order", "/missions/0/end"), F("dates.order", "/missions/2/end")]
     + SEED_WARNINGS)

# ---------------------------------------------------------------- schema.*
case("default_empty_object", {}, [
    F("schema.report", p) for p in
    ["/format", "/id", "/authority", "/subject", "/meeting/date",
     "/period/start", "/period/end", "/currency", "/total", "/missions"]])

d = genes()
d["id"] = ""
d["meeting"]["date"] = "2017-02-29"
d["currency"] = None
d["total"] = "1 177,87"
case("schema_report_ill_kinded", d, [
    F("schema.report", "/id"), F("schema.report", "/meeting/date"),
    F("schema.report", "/currency"), F("schema.report", "/total")])

d = genes()
d["missions"] = "none"
case("missions_string", d, [F("schema.report", "/missions")])

d = genes()
d["missions"] = None
case("missions_null", d, [F("schema.report", "/missions")])

d = genes()
d["total"] = None
case("total_null", d, [F("schema.report", "/total")])

d = genes()
d["missions"] = []
d["total"] = "0.00"
case("missions_empty_total_zero", d, [])

d = genes()
d["missions"] = []
case("missions_empty_total_nonzero", d, [F("total.missions", "/total")])

d = genes()
del d["missions"][0]["cost"]
case("mission_missing_cost", d, [F("schema.mission", "/missions/0/cost")])

d = genes()
d["missions"] = [{}]
case("mission_empty_object", d, [
    F("schema.mission", "/missions/0/" + p) for p in
    ["id", "destination", "start", "end", "delegation/size",
     "delegation/councillors", "delegation/guests", "delegation/staff",
     "cost"]])

d = genes()
d["missions"][0]["delegation"]["size"] = Raw("4.0")
case("delegation_size_float", d,
     [F("schema.mission", "/missions/0/delegation/size")])

d = genes()
d["missions"][0]["delegation"]["size"] = "4"
case("delegation_size_string", d,
     [F("schema.mission", "/missions/0/delegation/size")])

d = genes()
d["missions"][0]["delegation"]["councillors"] = "2"
case("delegation_councillors_string", d,
     [F("schema.mission", "/missions/0/delegation/councillors")])

d = genes()
d["missions"][0]["delegation"]["size"] = 5
case("delegation_size_mismatch_two_rules", d, [
    F("delegation.breakdown", "/missions/0/delegation/size"),
    F("delegation.members", "/missions/0/delegation/size")])

d = genes()
del d["missions"][0]["delegation"]["members"]
d["missions"][0]["delegation"]["guests"] = 1
case("delegation_breakdown_mismatch", d,
     [F("delegation.breakdown", "/missions/0/delegation/size")])

d = genes()
d["missions"][0]["delegation"]["members"] = []
case("members_empty", d, [
    F("delegation.members", "/missions/0/delegation/size"),
    F("delegation.councillors", "/missions/0/delegation/councillors"),
    F("delegation.staff", "/missions/0/delegation/staff")])

d = genes()
d["missions"][0]["delegation"]["members"][1]["role"] = "guest"
case("members_role_counts_mismatch", d, [
    F("delegation.councillors", "/missions/0/delegation/councillors"),
    F("delegation.guests", "/missions/0/delegation/guests")])

d = genes()
d["missions"][0]["delegation"]["members"][3]["role"] = "councillor"
d["missions"][0]["delegation"]["members"][2]["role"] = "councillor"
case("members_staff_mismatch", d, [
    F("delegation.councillors", "/missions/0/delegation/councillors"),
    F("delegation.staff", "/missions/0/delegation/staff")])

d = genes()
del d["missions"][0]["delegation"]["members"][3]["role"]
case("member_missing_role", d,
     [F("schema.member", "/missions/0/delegation/members/3/role")])

d = genes()
d["missions"][0]["delegation"]["members"][3]["role"] = None
case("member_role_null", d,
     [F("schema.member", "/missions/0/delegation/members/3/role")])

d = genes()
d["missions"][0]["delegation"]["members"][3]["role"] = "mayor"
case("member_role_unknown", d, [
    F("delegation.staff", "/missions/0/delegation/staff"),
    F("member.role", "/missions/0/delegation/members/3/role")])

d = genes()
del d["missions"][0]["delegation"]["members"][0]["name"]
case("member_missing_name", d,
     [F("schema.member", "/missions/0/delegation/members/0/name")])

d = genes()
d["missions"][0]["delegation"]["members"] = "see annex"
case("members_not_array", d,
     [F("schema.member", "/missions/0/delegation/members")])

d = genes()
m = d["missions"][0]["delegation"]["members"]
m[1]["name"] = m[0]["name"]
case("members_duplicate_name", d,
     [W("members.unique", "/missions/0/delegation/members/1")])

# ---------------------------------------------------------------- expenses
d = genes()
d["missions"][0]["expenses"][2]["amount"] = "184.51"
case("expenses_sum_mismatch", d, [F("total.expenses", "/missions/0/cost")])

d = genes()
d["missions"][0]["expenses"] = []
case("expenses_empty_array", d, [F("total.expenses", "/missions/0/cost")])

d = genes()
d["missions"][0]["expenses"] = {}
case("expenses_empty_object", d, [F("total.expenses", "/missions/0/cost")])

d = genes()
d["missions"][0]["expenses"] = "see invoice"
case("expenses_not_array", d, [F("schema.expense", "/missions/0/expenses")])

d = genes()
del d["missions"][0]["expenses"][3]["amount"]
case("expense_missing_amount", d,
     [F("schema.expense", "/missions/0/expenses/3/amount")])

d = genes()
d["missions"][0]["expenses"][3]["amount"] = "151.775"
case("expense_amount_three_decimals", d,
     [F("schema.expense", "/missions/0/expenses/3/amount")])

d = genes()
for e, a in zip(d["missions"][0]["expenses"], ["393.6", "448", "184.5",
                                               "151.77"]):
    e["amount"] = Raw(a)
case("expense_amounts_as_numbers", d, [])

d = genes()
d["missions"][0]["expenses"][3]["date"] = "2017-10-21"
case("expense_date_outside_mission", d,
     [F("dates.expenses", "/missions/0/expenses/3/date")])

d = genes()
d["missions"][0]["expenses"][0]["date"] = "2017-02-29"
case("expense_date_invalid", d,
     [F("schema.expense", "/missions/0/expenses/0/date")])

d = genes()
d["missions"][0]["expenses"][0]["amount"] = "398.60"
d["missions"][0]["expenses"].append(
    {"date": "2017-10-20", "category": "refund", "amount": "-5.00",
     "description": "Remboursement"})
case("expense_negative", d,
     [F("amounts.non_negative_expenses", "/missions/0/expenses/4/amount")])

d = genes()
ex = d["missions"][0]["expenses"]
ex[3] = {"date": "2017-10-19", "category": "meals", "amount": Raw("184.50"),
         "description": "Dîner, 4 couverts (bis)"}
d["missions"][0]["cost"] = "1210.60"
d["total"] = "1210.60"
case("expenses_duplicate", d,
     [W("expenses.duplicate", "/missions/0/expenses/3")])

# ---------------------------------------------------------------- amounts
d = genes()
del d["missions"][0]["expenses"]
d["missions"][0]["cost"] = "-10.00"
d["total"] = "-10.00"
case("mission_cost_negative", d,
     [F("amounts.non_negative", "/missions/0/cost")])

d = genes()
del d["missions"][0]["expenses"]
d["missions"][0]["cost"] = "-0.00"
d["total"] = "0"
case("mission_cost_negative_zero", d, [])


def small_mission(mid, start, end, cost, size=(1, 1, 0, 0)):
    return {"id": mid, "destination": "X", "start": start, "end": end,
            "delegation": {"size": size[0], "councillors": size[1],
                           "guests": size[2], "staff": size[3]},
            "cost": cost}


d = genes()
d["missions"] = [small_mission("a", "2017-10-19", "2017-10-19", Raw("0.1")),
                 small_mission("b", "2017-10-19", "2017-10-19", Raw("0.2"))]
d["total"] = "0.30"
case("total_float_costs_exact", d, [])

d = genes()
d["missions"] = [small_mission("a", "2017-10-19", "2017-10-19", "0.1"),
                 small_mission("b", "2017-10-19", "2017-10-19", "0.2")]
d["total"] = Raw("0.3")
case("total_string_costs_number_total", d, [])

# ---------------------------------------------------------------- dates
d = genes()
d["period"] = {"start": "2017-12-31", "end": "2017-01-01"}
case("period_reversed", d, [
    F("dates.period", "/period/end"),
    F("dates.in_period", "/missions/0/start"),
    F("dates.in_period", "/missions/0/end")])

d = genes()
m = d["missions"][0]
del m["expenses"]
m["cost"] = "4000.00"
d["total"] = "4000.00"
m["start"], m["end"] = "2017-10-20", "2017-10-19"
case("mission_end_before_start", d, [F("dates.order", "/missions/0/end")])

d = genes()
m = d["missions"][0]
del m["expenses"]
m["start"], m["end"] = "2017-12-31", "2018-01-02"
case("mission_outside_period", d, [F("dates.in_period", "/missions/0/end")])

d = genes()
d["missions"][0]["start"] = "2017-13-01"
case("mission_start_invalid_date", d,
     [F("schema.mission", "/missions/0/start")])

d = genes()
d["missions"][0]["end"] = "2017-10-2"
case("mission_end_unpadded_date", d, [F("schema.mission", "/missions/0/end")])

d = genes()
d["meeting"]["date"] = "2017-10-19"
case("ratification_same_day", d, [])

d = genes()
d["meeting"]["date"] = "2017-10-20"
case("ratification_after_start", d,
     [W("ratification.retroactive", "/missions/0/start")])

d = genes()
d["period"] = {"start": "2016-01-01", "end": "2016-12-31"}
d["meeting"]["date"] = "2016-02-01"
m = d["missions"][0]
del m["expenses"]
m["start"], m["end"] = "2016-02-28", "2016-02-29"
case("leap_day_2016_valid", d, [])

# ---------------------------------------------------------------- limits


def cost_case(name, cost, start, end, findings):
    d = genes()
    m = d["missions"][0]
    del m["expenses"]
    m["cost"] = cost
    d["total"] = cost
    m["start"], m["end"] = start, end
    case(name, d, findings)


cost_case("cost_per_participant_at_limit", "20000.00", "2017-10-12",
          "2017-10-20", [])
cost_case("cost_per_participant_over", "20000.01", "2017-10-12",
          "2017-10-20", [W("cost.per_participant", "/missions/0/cost")])
cost_case("cost_per_day_at_limit", "4800.00", "2017-10-19", "2017-10-20", [])
cost_case("cost_per_day_over_by_a_cent", "4800.01", "2017-10-19",
          "2017-10-20", [W("cost.per_participant_day", "/missions/0/cost")])

d = genes()
m = d["missions"][0]
del m["delegation"]["members"]
m["delegation"] = {"size": 0, "councillors": 0, "guests": 0, "staff": 0}
m["cost"] = "50000.00"
d["total"] = "50000.00"
del m["expenses"]
case("delegation_size_zero_no_per_limit", d, [])

# ---------------------------------------------------------------- enums
d = genes()
d["format"] = "mission-report/2"
case("format_version_wrong", d, [F("format.version", "/format")])

d = genes()
d["format"] = 1
case("format_not_string", d, [F("schema.report", "/format")])

d = genes()
d["currency"] = "USD"
case("currency_usd", d, [F("currency.allowed", "/currency")])

d = genes()
d["currency"] = "eur"
case("currency_lowercase", d, [F("currency.allowed", "/currency")])

d = genes()
d["x-extra"] = {"a": [1, None, {"b": True}]}
d["missions"][0]["notes"] = None
d["missions"][0]["delegation"]["members"][0]["email"] = None
case("unknown_fields_ignored", d, [])

# ---------------------------------------------------------------- input.*
gtext = GENES_BYTES.decode("utf-8")
case("bom_prefixed", b"\xef\xbb\xbf" + GENES_BYTES, [])
case("unicode_surrogate_pair_ok",
     gtext.replace('"subject": "', '"subject": "\\ud83d\\ude00 \\u00e9 '), [])


def nest(n):
    return "[" * n + "]" * n


case("depth_64_ok", gtext.replace('"format"', '"x": %s,\n  "format"'
                                  % nest(63), 1), [])
invalid("depth_65_invalid", gtext.replace('"format"', '"x": %s,\n  "format"'
                                          % nest(64), 1), "input.json")
invalid("depth_65_objects_invalid",
        '{"a":' * 64 + "{}" + "}" * 64, "input.json")
case("depth_64_objects_ok_custom",
     '{"a":' * 63 + "{}" + "}" * 63, [],
     rules="[nothing]\ntype = required\nfields = zz:string\n"
           "enabled = no\n")

lines = gtext.split("\n")
assert lines[7].strip().startswith('"report_number"'), lines[7]
lines[7] = lines[7] + ","    # line 8: trailing comma, error seen on line 9
invalid("json_syntax_trailing_comma", "\n".join(lines), "input.json",
        contains="9")
invalid("json_syntax_missing_colon", '{\n  "format" "x"\n}\n', "input.json",
        contains="2")
invalid("json_duplicate_key",
        gtext.replace('"currency": "EUR",', '"currency": "EUR",\n'
                      '  "currency": "EUR",', 1), "input.json")
invalid("json_duplicate_key_after_unescape",
        gtext.replace('"currency": "EUR",', '"currency": "EUR",\n'
                      '  "\\u0063urrency": "EUR",', 1), "input.json")
invalid("json_duplicate_key_nested",
        gtext.replace('"destination": "Gênes",',
                      '"destination": "Gênes",\n      "destination": "G",',
                      1), "input.json")
invalid("json_nul_escape",
        gtext.replace('"subject": "', '"subject": "a\\u0000b', 1),
        "input.json")
invalid("json_nul_escape_in_key",
        gtext.replace('"subject"', '"sub\\u0000ject"', 1), "input.json")
invalid("json_lone_high_surrogate",
        gtext.replace('"subject": "', '"subject": "\\ud800', 1), "input.json")
invalid("json_lone_low_surrogate",
        gtext.replace('"subject": "', '"subject": "\\udc00x', 1),
        "input.json")
invalid("json_reversed_surrogates",
        gtext.replace('"subject": "', '"subject": "\\ude00\\ud83d', 1),
        "input.json")
invalid("json_number_too_large",
        gtext.replace('"report_number": 112', '"report_number": 1e400', 1),
        "input.json")
invalid("json_integer_beyond_64_bits",
        gtext.replace('"report_number": 112',
                      '"report_number": 36893488147419103232', 1),
        "input.json")
invalid("json_trailing_garbage", gtext + "x\n", "input.json")
invalid("json_two_objects", "{}\n{}\n", "input.json")
invalid("json_empty_file", b"", "input.json")
invalid("json_whitespace_only", b" \n\t\n", "input.json")
invalid("json_single_quotes", "{'format': 'mission-report/1'}",
        "input.json")
invalid("json_raw_control_char_in_string",
        gtext.replace('"subject": "', '"subject": "tab\there', 1),
        "input.json")
invalid("encoding_invalid_byte",
        GENES_BYTES.replace(b'"subject": "', b'"subject": "\xff', 1),
        "input.encoding")
invalid("encoding_latin1", gtext.encode("latin-1"), "input.encoding")
invalid("encoding_overlong",
        GENES_BYTES.replace(b'"subject": "', b'"subject": "\xc0\xaf', 1),
        "input.encoding")
invalid("encoding_utf8_surrogate",
        GENES_BYTES.replace(b'"subject": "', b'"subject": "\xed\xa0\x80',
                            1), "input.encoding")
invalid("encoding_truncated_sequence",
        GENES_BYTES.replace(b'"subject": "', b'"subject": "\xc3', 1),
        "input.encoding")
invalid("encoding_before_json", b"[\xff", "input.encoding")
invalid("type_array", b"[]\n", "input.type")
invalid("type_string", b'"mission-report/1"\n', "input.type")
invalid("type_number", b"42\n", "input.type")
invalid("type_null", b"null", "input.type")
invalid("json_before_type", b"[1,]", "input.json")

# ---------------------------------------------------------------- custom
SEED_COPY = SEED_BYTES
case("custom_expense_cap", GENES_BYTES,
     [W("expense.cap", "/missions/0/expenses/1/amount")],
     rules="# no single expense above 400 EUR\n[expense.cap]\ntype = limit\n"
           "value = /missions/*/expenses/*/amount\nmax = 400.00\n"
           "severity = warning\n")

case("custom_country_enum", SEED_BYTES,
     [F("country.eu", "/missions/1/country")],
     rules="[country.eu]\ntype = enum\nitems = /missions/*/country\n"
           "values = IT, FR, ES, DE\n")

d = seed()
del d["missions"][2]["country"]
d["missions"][0]["country"] = ""
case("custom_country_required", d, [
    F("mission.country", "/missions/0/country"),
    F("mission.country", "/missions/2/country")],
    rules="[mission.country]\neach = /missions/*\ntype = required\n"
          "fields = country:string\n")

case("custom_within_literal_slack", SEED_BYTES, [
    F("window", "/missions/0/start"), F("window", "/missions/2/end")],
    rules="[window]\ntype = within\nitems = /missions/*/start, "
          "/missions/*/end\nfrom = 2017-10-21\nto = 2017-12-05\nslack = 1\n")

case("custom_within_slack_boundaries",
     {"events": [{"date": d} for d in
                 ["2020-01-08", "2020-01-07", "2020-01-22", "2020-01-23",
                  "2020-01-15"]]},
     [F("window", "/events/1/date"), F("window", "/events/3/date")],
     rules="[window]\ntype = within\nitems = /events/*/date\n"
           "from = 2020-01-10\nto = 2020-01-20\nslack = 2\n")

SUM_TOL = ("[sum.tol]\ntype = sum\nitems = /a/*, /b\nequals = /t\n"
           "tolerance = 0.05\n")
case("custom_sum_tolerance_ok", {"a": ["1.00", "2.00"], "b": 3, "t": "6.05"},
     [], rules=SUM_TOL)
case("custom_sum_tolerance_exceeded_below",
     {"a": ["1.00", "2.00"], "b": 3, "t": "5.94"},
     [F("sum.tol", "/t")], rules=SUM_TOL)
case("custom_sum_no_tolerance",
     {"a": ["1.00", "2.00"], "b": 3, "t": "6.01"},
     [F("sum.exact", "/t")],
     rules="[sum.exact]\ntype = sum\nitems = /a/*, /b\nequals = /t\n")

case("custom_sum_literal_equals",
     {"groups": [{"xs": ["4", "6"]}, {"xs": [4, Raw("5.5")]}, {"xs": []},
                 {"xs": ["10.00"]}]},
     [F("group.ten", "/groups/1"), F("group.ten", "/groups/2")],
     rules="[group.ten]\ntype = sum\neach = /groups/*\nitems = xs/*\n"
           "equals = 10.00\n")

case("custom_sum_float_numbers_exact",
     {"xs": [Raw("0.1"), Raw("0.2")], "t": "0.30",
      "ys": ["0.1", "0.2"], "u": Raw("0.3")},
     [], rules="[xs]\ntype = sum\nitems = /xs/*\nequals = /t\n"
               "[ys]\ntype = sum\nitems = /ys/*\nequals = /u\n")

case("custom_sum_exponent_number",
     {"a": Raw("1e2"), "b": "100.00"}, [],
     rules="[s]\ntype = sum\nitems = /a\nequals = /b\n")
case("custom_sum_exponent_string",
     {"a": "1e2", "b": "100.00"}, [F("s", "/a")],
     rules="[s]\ntype = sum\nitems = /a\nequals = /b\n")
case("custom_sum_integers",
     {"n": [1, 2, 3], "t": "6.00"}, [],
     rules="[s]\ntype = sum\nitems = /n/*\nequals = /t\n"
           "[c]\ntype = count\nitems = /n/*\nequals = 3\n")
case("custom_sum_items_ill_kinded_all_reported",
     {"xs": ["1", "x", True, "2"], "t": "3.00"},
     [F("s", "/xs/1"), F("s", "/xs/2")],
     rules="[s]\ntype = sum\nitems = /xs/*\nequals = /t\n")
case("custom_sum_missing_leaf_not_applicable",
     {"xs": [{"v": "1"}, {}], "t": "5.00"}, [],
     rules="[s]\ntype = sum\nitems = /xs/*/v\nequals = /t\n")

COUNT_WHERE = ("[one.chef]\ntype = count\neach = /teams/*\n"
               "items = people/*\nwhere = role=chef\nequals = 1\n")
case("custom_count_where_literal",
     {"teams": [{"people": [{"role": "chef"}, {"role": "cook"}]},
                {"people": [{"role": "chef"}, {"role": "chef"}]},
                {"people": []},
                {"people": [{"role": "chef"}, {"name": "no role"}]},
                {"people": [{"role": "Chef"}, {"role": "chef "}]}]},
     [F("one.chef", "/teams/1"), F("one.chef", "/teams/2"),
      F("one.chef", "/teams/4")],
     rules=COUNT_WHERE)
case("custom_count_where_ill_kinded",
     {"teams": [{"people": [{"role": "chef"}, {"role": 5}]}]},
     [F("one.chef", "/teams/0/people/1/role")], rules=COUNT_WHERE)
case("custom_count_object_members",
     {"xs": {"a": 1, "b": 2}, "n": 3},
     [F("c", "/n")], rules="[c]\ntype = count\nitems = /xs/*\nequals = /n\n")
case("custom_count_equals_ill_kinded",
     {"xs": [1, 2, 3], "n": "3"},
     [F("c", "/n")], rules="[c]\ntype = count\nitems = /xs/*\nequals = /n\n")

ORDER = ("[deadline]\ntype = order\nfirst = /submitted\nsecond = 2020-06-30\n"
         "[start.after]\ntype = order\nfirst = 2020-01-01\nsecond = /start\n")
case("custom_order_literal_fails",
     {"submitted": "2020-07-01", "start": "2019-12-31"},
     [F("deadline", "/submitted"), F("start.after", "/start")], rules=ORDER)
case("custom_order_literal_equal_ok",
     {"submitted": "2020-06-30", "start": "2020-01-01"}, [], rules=ORDER)
case("custom_order_null_operand",
     {"submitted": None, "start": "2020-01-01"},
     [F("deadline", "/submitted")], rules=ORDER)

LIMIT = ("[trip.daily]\ntype = limit\neach = /trips/*\nvalue = cost\n"
         "per = people\nper_days = from, to\nmin = 10.00\nmax = 100.00\n")


def trip(cost, people, frm="2020-01-01", to="2020-01-03"):
    return {"cost": cost, "people": people, "from": frm, "to": to}


case("custom_limit_per_and_days",
     {"trips": [trip("600.00", 2), trip("600.01", 2), trip("59.99", 2),
                trip("60.00", 2), trip("5000.00", 0),
                trip("5000.00", 2, "2020-01-03", "2020-01-01"),
                trip("5000.00", -1), trip("200.00", 2, "2020-01-01",
                                          "2020-01-01")]},
     [F("trip.daily", "/trips/1/cost"), F("trip.daily", "/trips/2/cost")],
     rules=LIMIT)
case("custom_limit_per_ill_kinded",
     {"trips": [trip("600.00", "2"), trip("6000.00", 2)]},
     [F("trip.daily", "/trips/0/people"), F("trip.daily", "/trips/1/cost")],
     rules=LIMIT)
case("custom_limit_min_over_object_members",
     {"prices": {"z": "1.00", "b": "-0.01", "c": -3, "a": 0}},
     [W("floor", "/prices/b"), W("floor", "/prices/c")],
     rules="[floor]\ntype = limit\nvalue = /prices/*\nmin = 0\n"
           "severity = warning\n")

REQ = ("[all.kinds]\ntype = required\nfields = s:string, i:integer, "
       "a:amount, d:date, arr:array, o:object, b:boolean\n")
REQ_PATHS = ["/s", "/i", "/a", "/d", "/arr", "/o", "/b"]
case("custom_required_all_kinds_ok",
     {"s": "x", "i": 9223372036854775807, "a": 12, "d": "2016-02-29",
      "arr": [], "o": {}, "b": False}, [], rules=REQ)
case("custom_required_all_missing", {"other": 1},
     [F("all.kinds", p) for p in REQ_PATHS], rules=REQ)
case("custom_required_all_wrong_kind",
     {"b": "true", "o": [], "arr": {}, "d": "2017-02-29", "a": "1.001",
      "i": Raw("4.0"), "s": ""},
     [F("all.kinds", p) for p in REQ_PATHS], rules=REQ)
case("custom_required_all_null",
     {k: None for k in ["s", "i", "a", "d", "arr", "o", "b"]},
     [F("all.kinds", p) for p in REQ_PATHS], rules=REQ)
case("custom_required_boolean_numbers",
     {"s": "x", "i": True, "a": "1", "d": "2016-02-29",
      "arr": [1], "o": {"k": 1}, "b": 0},
     [F("all.kinds", "/i"), F("all.kinds", "/b")], rules=REQ)
case("custom_required_nested_and_escaped",
     {"a/b": "", "c~d": {}},
     [F("esc", "/a~1b"), F("esc", "/c~0d/e"), F("esc", "/x/y")],
     rules="[esc]\ntype = required\nfields = a~1b:string, c~0d/e:integer, "
           "x/y:date\n")

case("custom_unique_no_key",
     {"codes": ["a", "b", "a", "c", "b", "a"]},
     [W("codes", "/codes/2"), W("codes", "/codes/4"),
      W("codes", "/codes/5")],
     rules="[codes]\ntype = unique\nitems = /codes/*\nseverity = warning\n")
case("custom_unique_amounts",
     {"amts": ["12.5", Raw("12.50"), "12.50", Raw("12.51"), "12.51",
               Raw("1250"), "1250.00"]},
     [F("u", "/amts/1"), F("u", "/amts/2"), F("u", "/amts/4"),
      F("u", "/amts/6")],
     rules="[u]\ntype = unique\nitems = /amts/*\n")
case("custom_unique_objects_member_order",
     {"objs": [{"a": "x", "b": [1, 2]}, {"b": [1, 2], "a": "x"},
               {"a": "x", "b": [2, 1]}, {"a": "x", "b": [1, 2], "c": None}]},
     [F("u", "/objs/1")],
     rules="[u]\ntype = unique\nitems = /objs/*\n")
case("custom_unique_objects_numbers_by_value",
     {"objs": [{"n": 1}, {"n": Raw("1.0")}, {"n": "1"}, {"n": Raw("1e0")}]},
     [F("u", "/objs/1"), F("u", "/objs/3")],
     rules="[u]\ntype = unique\nitems = /objs/*\n")
case("custom_unique_key",
     {"people": [{"first": "A", "last": "B", "age": 1},
                 {"first": "A", "last": "C"},
                 {"last": "B", "first": "A", "age": 2},
                 {"first": "A"},
                 {"first": "A", "last": "B"},
                 {"first": "A"}]},
     [F("u", "/people/2"), F("u", "/people/4")],
     rules="[u]\ntype = unique\nitems = /people/*\nkey = first, last\n")
case("custom_unique_key_amount",
     {"items": [{"amount": "12.5", "n": 1}, {"amount": Raw("12.50"), "n": 2},
                {"amount": "12.05", "n": 3}]},
     [F("u", "/items/1")],
     rules="[u]\ntype = unique\nitems = /items/*\nkey = amount\n")

ENUM = "[colour]\ntype = enum\nitems = /xs/*\nvalues = red, green\n"
case("custom_enum", {"xs": ["red", "blue", "green", "Red", "green"]},
     [F("colour", "/xs/1"), F("colour", "/xs/3")], rules=ENUM)
case("custom_enum_non_strings", {"xs": ["red", 5, None, "green"]},
     [F("colour", "/xs/1"), F("colour", "/xs/2")], rules=ENUM)
case("custom_enum_absent_and_empty", {"ys": ["blue"], "xs": []}, [],
     rules=ENUM + "[colour.y]\ntype = enum\nitems = /zs/*\nvalues = red\n")

case("custom_each_object_members_document_order",
     {"groups": {"zeta": {}, "alpha": {"name": "x"}, "mid": {"name": ""}}},
     [F("g", "/groups/zeta/name"), F("g", "/groups/mid/name")],
     rules="[g]\ntype = required\neach = /groups/*\nfields = name:string\n")

case("custom_severity_info", {"xs": ["blue"]}, [I("colour", "/xs/0")],
     rules=ENUM + "severity = info\n")
case("custom_severity_warning", {"xs": ["blue"]}, [W("colour", "/xs/0")],
     rules=ENUM + "severity = warning\n")
case("custom_enabled_no", {"xs": ["blue"], "t": "1.00"}, [],
     rules=ENUM + "enabled = no\n[s]\ntype = sum\nitems = /xs/*\n"
           "equals = 1.00\nenabled = no\n[r]\ntype = required\n"
           "fields = t:amount\nenabled = yes\n")
case("custom_message_prefix", {"xs": ["blue"]},
     [F("colour", "/xs/0", contains="Palette rule P-17")],
     rules=ENUM + "message = Palette rule P-17\n")
case("custom_comments_and_order",
     {"xs": ["blue"], "ys": []},
     [W("b.second", "/ys"), F("a.first", "/xs/0")],
     rules="# comment\n; another comment\n\n[b.second]\ntype = required\n"
           "fields = ys:object\nseverity = warning\n\n"
           "[a.first]\ntype = enum\nitems = /xs/*\nvalues = red\n")

case("custom_wildcard_over_scalar",
     {"xs": 5},
     [F("sum.xs", "/xs")],
     rules="[sum.xs]\ntype = sum\nitems = /xs/*\nequals = 0\n"
           "[count.xs]\ntype = count\nitems = /xs/*\nequals = 1\n"
           "[enum.xs]\ntype = enum\nitems = /xs/*\nvalues = a\n")
case("custom_each_over_scalar",
     {"missions": "x"},
     [F("m.req", "/missions")],
     rules="[m.req]\ntype = required\neach = /missions/*\nfields = id:string\n"
           "[m.enum]\ntype = enum\nitems = /missions/*/kind\nvalues = a\n")
case("custom_first_rule_reports_at_its_severity",
     {"x": "bad", "y": "1.00"}, [W("a.warn", "/x")],
     rules="[a.warn]\ntype = limit\nvalue = /x\nmin = 0\nseverity = warning\n"
           "[b.err]\ntype = sum\nitems = /x\nequals = /y\n")
case("custom_first_rule_reports_at_its_severity_reversed",
     {"x": "bad", "y": "1.00"}, [F("b.err", "/x")],
     rules="[b.err]\ntype = sum\nitems = /x\nequals = /y\n"
           "[a.warn]\ntype = limit\nvalue = /x\nmin = 0\nseverity = warning\n")
case("custom_ill_kinded_skips_only_its_item",
     {"xs": [{"d": "2020-02-30"}, {"d": "2021-01-01"}, {"d": "2020-05-05"}]},
     [F("r1", "/xs/0/d"), F("r2", "/xs/1/d")],
     rules="[r1]\ntype = required\neach = /xs/*\nfields = d:date\n"
           "[r2]\ntype = within\nitems = /xs/*/d\nfrom = 2020-01-01\n"
           "to = 2020-12-31\n")
case("custom_absent_operands_not_applicable",
     {"a": "1.00", "t": "9.00"}, [],
     rules="[s1]\ntype = sum\nitems = /nope/*\nequals = /t\n"
           "[s2]\ntype = sum\nitems = /a\nequals = /nope\n"
           "[c1]\ntype = count\nitems = /nope/*/x\nequals = 3\n"
           "[w1]\ntype = within\nitems = /nope\nfrom = 2020-01-01\n"
           "to = 2020-01-02\n"
           "[o1]\ntype = order\nfirst = /nope\nsecond = 2020-01-01\n"
           "[l1]\ntype = limit\nvalue = /nope/*\nmax = 1\n"
           "[u1]\ntype = unique\nitems = /nope/*\n")
case("custom_empty_array_sum_zero_count_zero",
     {"xs": []}, [F("count.one", "")],
     rules="[sum.zero]\ntype = sum\nitems = /xs/*\nequals = 0.00\n"
           "[count.zero]\ntype = count\nitems = /xs/*\nequals = 0\n"
           "[count.one]\ntype = count\nitems = /xs/*\nequals = 1\n")

# min only: a value wrongly taken as an amount above 10^12 gives no finding
AMOUNT_LIMIT = ("[amount.range]\ntype = limit\nvalue = /amounts/*\n"
                "min = -1000000000000.00\n")
case("amounts_valid_list",
     {"amounts": ["0", "-0.00", "12", 12, "12.5", "1177.87", Raw("1177.87"),
                  Raw("1e2"), Raw("-5"), "-5.00", "1000000000000.00",
                  Raw("1000000000000"), "-1000000000000", "012",
                  Raw("0.1"), Raw("-0.0"), Raw("12.50"), Raw("1.5E1")]},
     [], rules=AMOUNT_LIMIT)
BAD_AMOUNTS = ["10.005", Raw("10.005"), "1 177,87", "+5", "1e2", True, None,
               "", " 5", "5 ", "1,000.00", "€5", "12.", ".5",
               "1000000000000.01", Raw("1000000000000.01"),
               Raw("1000000000001"), "0x10", "NaN", [], {}, "-", "1.2.3",
               "--5", "-1000000000000.01", Raw("1e13"), False]
case("amounts_invalid_list", {"amounts": BAD_AMOUNTS},
     [F("amount.range", "/amounts/%d" % i) for i in range(len(BAD_AMOUNTS))],
     rules=AMOUNT_LIMIT)
case("amounts_out_of_range_vs_ill_kinded",
     {"amounts": ["5.00", "150.00", "99.99", "100.01"]},
     [F("amount.cap", "/amounts/1"), F("amount.cap", "/amounts/3")],
     rules="[amount.cap]\ntype = limit\nvalue = /amounts/*\nmax = 100\n")

DATE_WITHIN = ("[date.valid]\ntype = within\nitems = /dates/*\n"
               "from = 0001-01-01\nto = 9999-12-31\n")
case("dates_valid_list",
     {"dates": ["2016-02-29", "2000-02-29", "0001-01-01", "9999-12-31",
                "2017-12-31", "2017-04-30", "2024-02-29"]},
     [], rules=DATE_WITHIN)
BAD_DATES = ["2017-02-29", "1900-02-29", "2017-13-01", "2017-1-01",
             "2017-01-1", "0000-01-01", "2017-00-10", "2017-04-31",
             "20170101", "2017/01/01", " 2017-01-01", "2017-01-01T00:00:00Z",
             Raw("20170101"), None, "10000-01-01", "2017-01-32", "",
             "2017-02-30", True, "+2017-01-01"]
case("dates_invalid_list", {"dates": BAD_DATES},
     [F("date.valid", "/dates/%d" % i) for i in range(len(BAD_DATES))],
     rules=DATE_WITHIN)


# ---------------------------------------------------------------- more
d = genes()
d["currency"] = None
d["total"] = None
d["format"] = True
d["subject"] = True
case("schema_report_several_nulls_and_booleans", d, [
    F("schema.report", "/format"), F("schema.report", "/subject"),
    F("schema.report", "/currency"), F("schema.report", "/total")])

d = genes()
for mm in d["missions"][0]["delegation"]["members"][2:]:
    mm["role"] = None
case("members_two_null_roles", d, [
    F("schema.member", "/missions/0/delegation/members/2/role"),
    F("schema.member", "/missions/0/delegation/members/3/role")])

case("custom_enum_two_booleans", {"xs": [True, "red", True, False]},
     [F("colour", "/xs/0"), F("colour", "/xs/2"), F("colour", "/xs/3")],
     rules=ENUM)

invalid("json_duplicate_key_escaped_solidus",
        '{"a/b": 1, "a\\/b": 2}', "input.json")
invalid("json_bom_not_leading", b" \xef\xbb\xbf" + GENES_BYTES, "input.json")
invalid("encoding_after_bom",
        b"\xef\xbb\xbf" + GENES_BYTES.replace(b'"subject": "',
                                              b'"subject": "\xfe', 1),
        "input.encoding")
case("json_huge_and_tiny_doubles_ok",
     gtext.replace('"format"', '"x": [1e308, -1e308, 1e-400, '
                   '-9223372036854775808, 9223372036854775807],\n  "format"',
                   1), [])
invalid("json_integer_below_int64",
        gtext.replace('"report_number": 112',
                      '"report_number": -9223372036854775809', 1),
        "input.json")

case("custom_array_index_paths", SEED_BYTES, [F("miami.cap",
                                                "/missions/1/cost")],
     rules="[ends]\ntype = sum\nitems = /missions/0/cost, /missions/2/cost\n"
           "equals = 5550.42\n"
           "[miami.cap]\ntype = limit\nvalue = /missions/1/cost\n"
           "max = 100000\n"
           "[absent.index]\ntype = limit\nvalue = /missions/7/cost\nmax = 0\n")

case("custom_enum_values_with_spaces_utf8", SEED_BYTES,
     [W("authority.known", "/authority")],
     rules="[body.known]\ntype = enum\nitems = /meeting/body\n"
           "values = Commission permanente, Assemblée plénière\n"
           "[authority.known]\ntype = enum\nitems = /authority\n"
           "values = Conseil régional, Conseil départemental du Var\n"
           "severity = warning\n")

case("custom_required_skips_reported_field", {"x": 5},
     [F("a", "/x"), F("b", "/y")],
     rules="[a]\ntype = enum\nitems = /x\nvalues = a\n"
           "[b]\ntype = required\nfields = x:string, y:string\n")

case("custom_pointer_escape_in_findings",
     {"groups": {"a/b": {}, "c~d": {}, "é": {}, "": {}, "ok": {"name": "n"}}},
     [F("g", "/groups/a~1b/name"), F("g", "/groups/c~0d/name"),
      F("g", "/groups/é/name"), F("g", "/groups//name")],
     rules="[g]\ntype = required\neach = /groups/*\nfields = name:string\n")

case("custom_sum_15_significant_digits",
     {"xs": [Raw("999999999999.99"), Raw("0.01")], "t": "1000000000000.00",
      "ys": [Raw("123456789012.34"), "-123456789012.34"], "u": 0},
     [], rules="[xs]\ntype = sum\nitems = /xs/*\nequals = /t\n"
               "[ys]\ntype = sum\nitems = /ys/*\nequals = /u\n")


d = genes()
m2 = copy.deepcopy(d["missions"][0])
m2["id"] = "genes-2017-bis"
d["missions"].append(m2)
d["total"] = "2355.74"
case("members_same_name_in_two_missions_ok", d, [])

d = seed()
d["period"] = {"start": "2017-12-31", "end": "2017-01-01"}
case("seed_period_reversed", d,
     [F("dates.period", "/period/end")]
     + [F("dates.in_period", "/missions/%d/%s" % (i, k))
        for i in range(3) for k in ("start", "end")]
     + SEED_WARNINGS)

d = seed()
d["total"] = Raw("139108.94")
for mm, c in zip(d["missions"], ["1177.87", "133558.52", "4372.55"]):
    mm["cost"] = Raw(c)
case("seed_amounts_as_numbers", d, list(SEED_WARNINGS))

d = genes()
d["missions"].append(small_mission("b", "2017-10-19", "2017-10-19",
                                   "10.00"))
d["total"] = "1187.87"
d["grand"] = "5.00"
case("custom_sum_nested_wildcard_missing_level",
     d, [], rules="[grand]\ntype = sum\nitems = /missions/*/expenses/*/amount\n"
                  "equals = /grand\n")


def spec_differences(exp, doc):
    """How the binary's result doc differs from a case's expectation."""
    diffs = []
    for k in ("verdict", "errors", "warnings"):
        if doc[k] != exp[k]:
            diffs.append("%s: want %r, got %r" % (k, exp[k], doc[k]))
    got = [(f["rule"], f["severity"], f["path"]) for f in doc["findings"]]
    want = [(f["rule"], f["severity"], f["path"]) for f in exp["findings"]]
    if got != want:
        diffs.append("findings: want %r, got %r" % (want, got))
        return diffs
    for f, e in zip(doc["findings"], exp["findings"]):
        subs = e.get("message_contains")
        for s in [subs] if isinstance(subs, str) else subs or []:
            if s not in f["message"]:
                diffs.append("%r not in message %r" % (s, f["message"]))
    return diffs


def main():
    exe = regen.binary()
    if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
        sys.exit("make_cases: no executable %s (make all, or set EXPENSED)"
                 % exe)
    OUT.mkdir(parents=True, exist_ok=True)
    bad = 0
    for name, (data, rules, exp) in sorted(CASES.items()):
        d = OUT / name
        if d.exists():
            shutil.rmtree(d)
        d.mkdir()
        (d / "input.json").write_bytes(data)
        if rules is not None:
            (d / "rules.rules").write_text(rules)
        for line in spec_differences(exp, regen.regen(exe, d)):
            print("%s: %s" % (name, line))
            bad += 1
    print(len(CASES), "cases written to", OUT)
    if bad:
        sys.exit("make_cases: the binary disagrees with the expectations (above)")

if __name__ == "__main__":
    main()
