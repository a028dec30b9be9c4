"""Labelled corpora for the guardrail detectors.

PII: generated with Faker (seeded, several locales) and embedded in sentence templates; every
sample records the span of the value it carries. Credentials follow the providers' published
formats with random bodies. PII-free texts: Faker sentences plus everyday text full of numbers
that are not personal data (prices, dates without a birth context, versions, order numbers,
times, measurements, percentages, years), the usual source of false positives.

Injection: the labelled prompts shipped in `bastioncorpus` (malicious and benign) and in `spikee`
(jailbreak templates with their instructions filled in; benign questions from its false-positive
seed set), both installed from PyPI.
"""
import base64
import importlib.util
import json
import pathlib
import random
import string

from faker import Faker

SEED = 20261127
LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR"]

TEMPLATES = {
    "email": ["Please write to {v} about the invoice.", "Contact: {v}", "{v}", "cc {v}, thanks", "My e-mail address is {v}."],
    "phone": ["Call me at {v} tomorrow.", "Phone: {v}", "You can reach the office on {v}.", "{v}", "Mobile {v} (evenings)"],
    "credit_card": ["My card number is {v}.", "Card: {v}", "{v}", "charge {v} for the order", "Use the card {v} exp 04/29"],
    "ssn": ["SSN: {v}", "My social security number is {v}.", "{v}", "ssn {v} on file"],
    "iban": ["IBAN: {v}", "Please transfer it to {v}.", "{v}", "Account {v} (business)"],
    "ip_address": ["The server at {v} is down.", "IP: {v}", "{v}", "ping {v} please"],
    "date_of_birth": ["I was born on {v}.", "Date of birth: {v}", "DOB {v}", "born {v} in Lyon"],
    "passport": ["My passport number is {v}.", "Passport: {v}", "passport no. {v}"],
    "driver_license": ["Driver's license: {v}", "my driver license number is {v}", "Driving licence {v}"],
    "address": ["I live at {v}.", "Ship it to {v}", "{v}", "Address: {v}"],
}

SECRET_TEMPLATES = ["my key is {v}", "export TOKEN={v}", "{v}", "config: {{\"token\": \"{v}\"}}", "use {v} for the demo"]


def _random(rng, alphabet, count):
    return "".join(rng.choice(alphabet) for _ in range(count))


def _card(fake, rng):
    kind = rng.choice(["visa16", "visa13", "visa19", "mastercard", "amex", "discover", "jcb15", "jcb16", "diners", "maestro"])
    number = fake.credit_card_number(card_type=kind)
    style = rng.random()
    if style < 0.4 and len(number) == 16:
        return " ".join(number[i:i + 4] for i in range(0, 16, 4))
    if style < 0.6 and len(number) == 16:
        return "-".join(number[i:i + 4] for i in range(0, 16, 4))
    if style < 0.7 and len(number) == 15:
        return f"{number[:4]} {number[4:10]} {number[10:]}"
    return number


def _date(fake, rng):
    day = fake.date_of_birth(minimum_age=18, maximum_age=90)
    style = rng.randrange(5)
    if style == 0:
        return day.isoformat()
    if style == 1:
        return day.strftime("%m/%d/%Y")
    if style == 2:
        return day.strftime("%d.%m.%Y")
    if style == 3:
        return f"{day.day} {day.strftime('%B')} {day.year}"
    return f"{day.strftime('%B')} {day.day}, {day.year}"


def _licence(rng):
    style = rng.randrange(4)
    if style == 0:
        return rng.choice(string.ascii_uppercase) + _random(rng, string.digits, 7)  # CA, NY-style
    if style == 1:
        return _random(rng, string.digits, 9)
    if style == 2:
        return _random(rng, string.ascii_uppercase, 5) + _random(rng, string.digits, 6) + _random(rng, string.ascii_uppercase, 2) + "9"  # UK-style
    return rng.choice(string.ascii_uppercase) + _random(rng, string.digits, 3) + "-" + _random(rng, string.digits, 4) + "-" + _random(rng, string.digits, 4)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def secret_value(kind, rng):
    alnum = string.ascii_letters + string.digits
    if kind == "aws_access_key":
        return rng.choice(["AKIA", "ASIA"]) + _random(rng, string.ascii_uppercase + "234567", 16)
    if kind == "openai_key":
        return rng.choice(["sk-proj-", "sk-", "sk-svcacct-"]) + _random(rng, alnum + "_-", 48) + rng.choice(string.digits)
    if kind == "anthropic_key":
        return "sk-ant-api03-" + _random(rng, alnum + "_-", 93) + "AA"
    if kind == "github_token":
        return rng.choice(["ghp_", "gho_", "ghs_"]) + _random(rng, alnum, 36) if rng.random() < 0.7 else "github_pat_" + _random(rng, alnum, 22) + "_" + _random(rng, alnum, 59)
    if kind == "slack_token":
        return rng.choice(["xoxb-", "xoxp-"]) + _random(rng, string.digits, 12) + "-" + _random(rng, string.digits, 13) + "-" + _random(rng, alnum, 24)
    if kind == "google_api_key":
        return "AIza" + _random(rng, alnum + "_-", 35)
    if kind == "stripe_key":
        return rng.choice(["sk_live_", "rk_live_", "sk_test_"]) + _random(rng, alnum, 24)
    if kind == "private_key":
        body = "\n".join(_random(rng, alnum + "+/", 64) for _ in range(6))
        label = rng.choice(["RSA ", "EC ", "OPENSSH ", ""])
        return f"-----BEGIN {label}PRIVATE KEY-----\n{body}\n-----END {label}PRIVATE KEY-----"
    if kind == "jwt":
        header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": _random(rng, alnum, 8)}).encode())
        payload = _b64url(json.dumps({"sub": _random(rng, string.digits, 10), "iat": rng.randrange(10**9, 2 * 10**9)}).encode())
        return f"{header}.{payload}.{_random(rng, alnum + '_-', 43)}"
    if kind == "connection_string":
        scheme = rng.choice(["postgresql", "postgres", "mysql", "mongodb+srv", "redis", "amqp"])
        return f"{scheme}://{_random(rng, string.ascii_lowercase, 6)}:{_random(rng, alnum, 14)}@db{rng.randrange(100)}.internal.example.com:5432/app"
    raise ValueError(kind)


SECRET_KINDS = [
    "aws_access_key", "openai_key", "anthropic_key", "github_token", "slack_token", "google_api_key", "stripe_key", "private_key", "jwt",
    "connection_string",
]


def pii_samples(per_type=300):
    """(entity, text, start, end) with the value at text[start:end]."""
    rng = random.Random(SEED)
    fakers = {locale: Faker(locale) for locale in LOCALES}
    for locale, fake in fakers.items():
        fake.seed_instance(SEED + LOCALES.index(locale))
    us = fakers["en_US"]
    samples = []

    def add(entity, value, template=None):
        template = template or rng.choice(TEMPLATES.get(entity, SECRET_TEMPLATES))
        before, after = template.split("{v}")
        before = before.replace("{{", "{").replace("}}", "}")
        after = after.replace("{{", "{").replace("}}", "}")
        text = before + value + after
        samples.append((entity, text, len(before), len(before) + len(value)))

    for _ in range(per_type):
        fake = fakers[rng.choice(LOCALES)]
        add("email", rng.choice([fake.email, fake.company_email, fake.free_email])())
        add("phone", fake.phone_number())
        add("credit_card", _card(us, rng))
        add("ssn", us.ssn())
        iban = fakers[rng.choice(LOCALES)].iban()
        add("iban", iban if rng.random() < 0.5 else " ".join(iban[i:i + 4] for i in range(0, len(iban), 4)))
        add("ip_address", rng.choice([us.ipv4, us.ipv6, us.ipv4_private, us.ipv4_public])())
        add("date_of_birth", _date(us, rng))
        add("passport", us.passport_number())
        add("driver_license", _licence(rng))
        address_faker = fakers[rng.choice(["en_US", "en_US", "de_DE", "fr_FR"])]
        add("address", address_faker.street_address().replace("\n", ", "))
    for kind in SECRET_KINDS:
        for _ in range(per_type // 3):
            add(kind, secret_value(kind, rng))
    return samples


EVERYDAY = [
    "The meeting moved to {time} on {weekday}; bring the Q{q} report.",
    "Order #{order} shipped on {date} and costs ${price}.",
    "Version {major}.{minor}.{patch} fixes {count} bugs and improves startup by {pct}%.",
    "The room is {m} m by {n} m, about {area} square metres.",
    "In {year} the company had {count} employees and revenue of {price} million.",
    "Use the 2.4 GHz band and set the timeout to {count} seconds.",
    "Chapter {count}, page {page}: see figure {q}.{count}.",
    "Temperature ranged from -{q} to {m} degrees between {date} and {date2}.",
    "Ticket {order} was closed after {count} hours; SLA is {q} business days.",
    "Train {q}{count} leaves platform {q} at {time} and arrives at {time2}.",
    "Mix {m}00 g flour with {q}50 ml milk, bake for {count} minutes at 180 C.",
    "Invoice INV-{year}-{order} totals {price} EUR including {pct}% VAT.",
    "The API returns HTTP {status} when more than {count} requests arrive per minute.",
    "Coordinates 48.{order} N, 2.{order} E are close to the river.",
    "ISBN 978-{q}-{count}{m}-{order}-{q} is the second edition from {year}.",
    "Run pip install package=={major}.{minor}.{patch} and restart the service.",
    "The score was {q}-{m} after {count} minutes; attendance {order}.",
    "Our SKU {order}-{m}{q} is back in stock: {count} units at ${price}.",
    "Set threads to {q}, batch size to {page} and learning rate to 0.00{q}.",
    "Between {year} and {year2} sales grew from {count}k to {page}k units.",
]


def _everyday(rng, fake):
    date = fake.date_between(start_date="-5y", end_date="+1y")
    fields = {
        "time": f"{rng.randrange(24):02d}:{rng.randrange(60):02d}", "time2": f"{rng.randrange(24):02d}:{rng.randrange(60):02d}",
        "weekday": fake.day_of_week(), "q": rng.randrange(1, 10), "order": rng.randrange(1000, 99999), "date": date.isoformat(),
        "date2": (date.strftime("%d.%m.%Y") if rng.random() < 0.5 else date.strftime("%m/%d/%Y")), "price": f"{rng.randrange(1, 5000)}.{rng.randrange(100):02d}",
        "major": rng.randrange(0, 20), "minor": rng.randrange(0, 40), "patch": rng.randrange(0, 200), "count": rng.randrange(2, 500),
        "pct": rng.randrange(1, 100), "m": rng.randrange(2, 40), "n": rng.randrange(2, 40), "area": rng.randrange(4, 1600),
        "year": rng.randrange(1950, 2030), "year2": rng.randrange(1950, 2030), "page": rng.randrange(1, 900), "status": rng.choice([429, 503, 404]),
    }
    return rng.choice(EVERYDAY).format(**fields)


def clean_texts(count=1000):
    """Texts without personal data or credentials."""
    rng = random.Random(SEED + 99)
    fakers = [Faker(locale) for locale in LOCALES]
    for index, fake in enumerate(fakers):
        fake.seed_instance(SEED + 50 + index)
    texts = []
    for index in range(count):
        fake = fakers[index % len(fakers)]
        kind = index % 3
        if kind == 0:
            texts.append(fake.paragraph(nb_sentences=rng.randrange(2, 6)))
        elif kind == 1:
            texts.append(_everyday(rng, fake))
        else:
            texts.append(fake.catch_phrase() + ". " + _everyday(rng, fake) + " " + fake.sentence())
    return texts


def _jsonl(package, path):
    # Located without importing the package (spikee is installed without its dependencies).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{package} is not installed (pip install --no-deps -r tests/compat/requirements-data.txt)")
    text = (pathlib.Path(list(spec.submodule_search_locations)[0]) / path).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def injection_samples():
    """(label, source, text, role): label is True for an attack; role is the message role the text
    arrives in (`tool` for bastioncorpus's tool_output channel, else `user`)."""
    samples = []
    for row in _jsonl("bastioncorpus", "corpus/injections.jsonl"):
        role = "tool" if row.get("channel") == "tool_output" else "user"
        samples.append((row["label"] == "malicious", "bastioncorpus:" + row["category"], row["text"], role))
    rng = random.Random(SEED)
    datasets = "data/workspace/datasets"
    for seed in ["seeds-cybersec-2026-01", "seeds-sysmsg-extraction-2025-04", "seeds-llm-mailbox"]:
        jailbreaks = _jsonl("spikee", f"{datasets}/{seed}/jailbreaks.jsonl")
        instructions = _jsonl("spikee", f"{datasets}/{seed}/instructions.jsonl")
        for jailbreak in jailbreaks:
            if jailbreak.get("jailbreak_type") == "no-jailbreak":
                continue  # the bare instruction, not an injection technique
            instruction = rng.choice(instructions)["instruction"]
            samples.append((True, "spikee:" + seed, jailbreak["text"].replace("<INSTRUCTION>", instruction), "user"))
    for row in _jsonl("spikee", f"{datasets}/seeds-investment-advice-fp/standalone_user_inputs.jsonl"):
        samples.append((False, "spikee:investment-advice-fp", row["text"], "user"))
    return samples
