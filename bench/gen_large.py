#!/usr/bin/python3
"""gen_large.py OUT [MB] - write a large, consistent mission-report/1 file.

For the engine benchmark (bench/bench_engine.c): thousands of missions, each
with a member annex and detailed expenses whose amounts add up, so that the
default rule set accepts it and every rule has real work to do. Deterministic
(fixed seed): the same MB gives the same bytes. Standard library only.
"""
import datetime
import json
import os
import random
import sys

CATEGORIES = ["transport", "lodging", "meals", "registration", "taxi",
              "visa", "insurance", "interpreting"]
CITIES = [("Genoa", "IT"), ("Milan", "IT"), ("Miami", "US"), ("Lyon", "FR"),
          ("Barcelona", "ES"), ("Munich", "DE"), ("Porto", "PT"),
          ("Montreal", "CA"), ("Tunis", "TN"), ("Algiers", "DZ")]
YEAR_START = datetime.date(2017, 1, 1)


def cents(c):
    return "%d.%02d" % (c // 100, c % 100)


def mission(rng, idx):
    days = rng.randint(1, 6)
    start = YEAR_START + datetime.timedelta(days=rng.randint(0, 364 - 6))
    end = start + datetime.timedelta(days=days - 1)
    roles = ["councillor"] * rng.randint(1, 4) + \
        ["guest"] * rng.randint(0, 4) + ["staff"] * rng.randint(1, 4)
    members = [{"name": "Member %d-%d" % (idx, j), "role": r}
               for j, r in enumerate(roles)]
    # Amounts of 5.00 to 40.00, at most 15 per person-day: at most 600.00
    # per person per day, the default cost.per_participant_day limit.
    seen = set()
    expenses = []
    for _ in range(rng.randint(5, min(40, 15 * len(roles) * days))):
        while True:
            d = start + datetime.timedelta(days=rng.randint(0, days - 1))
            cat = rng.choice(CATEGORIES)
            amount = rng.randint(500, 4000)
            if (d, cat, amount) not in seen:
                break
        seen.add((d, cat, amount))
        expenses.append({"date": d.isoformat(), "category": cat,
                         "amount": cents(amount),
                         "description": "%s, %s" % (cat, d.isoformat())})
    city, country = CITIES[idx % len(CITIES)]
    cost = sum(int(e["amount"].replace(".", "")) for e in expenses)
    return cost, {
        "id": "m-%06d" % idx,
        "destination": city,
        "country": country,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "purpose": "Generated mission %d for the engine benchmark" % idx,
        "delegation": {
            "size": len(roles),
            "councillors": roles.count("councillor"),
            "guests": roles.count("guest"),
            "staff": roles.count("staff"),
            "members": members,
        },
        "cost": cents(cost),
        "expenses": expenses,
    }


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: gen_large.py OUT [MB]")
    target = int(float(sys.argv[2] if len(sys.argv) == 3 else 50) * 1e6)
    rng = random.Random(20170101)
    total = 0
    size = 0
    with open(sys.argv[1] + ".tmp", "w", encoding="utf-8") as f:
        head = ('{"format": "mission-report/1", "id": "BENCH-LARGE-1", '
                '"authority": "Benchmark authority", '
                '"meeting": {"body": "Commission permanente", '
                '"date": "2016-12-01"}, '
                '"subject": "Generated report for the engine benchmark", '
                '"period": {"start": "2017-01-01", "end": "2017-12-31"}, '
                '"currency": "EUR", "missions": [\n')
        f.write(head)
        size += len(head)
        idx = 0
        while size < target:
            cost, m = mission(rng, idx)
            text = ("" if idx == 0 else ",\n") + json.dumps(
                m, ensure_ascii=False)
            f.write(text)
            size += len(text.encode("utf-8"))
            total += cost
            idx += 1
        f.write('\n], "total": "%s"}\n' % cents(total))
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    print("gen_large: %s: %d missions, %.1f MB, total %s" %
          (sys.argv[1], idx, size / 1e6, cents(total)))


if __name__ == "__main__":
    main()
