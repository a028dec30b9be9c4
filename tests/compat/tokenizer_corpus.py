"""Deterministic random strings for checking token counts against tiktoken.

``corpus(seed, n)`` returns ``n`` strings built from a ``random.Random(seed)``: English prose,
contractions in mixed case, code, JSON, numbers in many scripts, sentences in more than a dozen
scripts, emoji sequences (ZWJ, skin tones, flags, keycaps), combining marks in odd places,
whitespace runs mixing ``\\r\\n\\t``, NBSP, U+0085, U+2028, U+3000 and friends, long words with no
split points, random scalars from many Unicode blocks (including recently assigned and unassigned
ones) and mixtures of all of these. The same seed always gives the same list (no set or dict
ordering, no hash-dependent state). Surrogates are never produced, so every string is valid
UTF-8 / JSON-encodable.

Typical use::

    from tokenizer_corpus import corpus
    for text in corpus(seed=7, n=2000):
        assert gateway_count(text) == len(tiktoken_enc.encode_ordinary(text))
"""
from __future__ import annotations

import json
import random

__all__ = ["corpus", "curated", "CATEGORIES"]

WORDS = (
    "the of and to in is you that it he was for on are as with his they at be this have from or one had by "
    "word but not what all were we when your can said there use an each which she do how their if will up other "
    "about out many then them these so some her would make like him into time has look two more write go see "
    "number no way could people my than first water been call who oil its now find long down day did get come "
    "made may part gateway token model request response stream latency provider routing budget cache retry "
    "Switchyard OpenAI Anthropic tokenizer encoding byte pair merge rank vocabulary unicode whitespace newline "
    "internationalization antidisestablishmentarianism supercalifragilisticexpialidocious pneumonoultramicroscopic"
).split()

CONTRACTION_STEMS = "don can won isn aren wasn it that there he she we they you I who what let y shouldn couldn".split()
CONTRACTION_SUFFIXES = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "’s", "’t", "'S", "'T", "'RE", "'Ve", "'rE", "'LL", "'lL",
                        "'D", "'M", "'ſ", "'x", "'", "''", "'st", "'ll've"]

SCRIPTS = [
    # Chinese (simplified / traditional)
    "今天天气很好，我们去公园散步吧。", "這個網關會把請求轉發給最便宜的模型。", "人工智能正在改变世界。",
    # Japanese (kanji, hiragana, katakana, prolonged sound mark, half-width katakana)
    "東京タワーは高さ三百三十三メートルです。", "ゲートウェイのレイテンシーを測定しました！", "ｶﾀｶﾅとひらがなが混ざった文ー。",
    # Korean
    "안녕하세요, 오늘은 날씨가 정말 좋네요.", "토큰 수를 정확하게 세는 것이 중요합니다.",
    # Arabic with and without harakat, Persian, Urdu
    "مرحبا بالعالم، كيف حالك اليوم؟", "اَلسَّلَامُ عَلَيْكُمْ وَرَحْمَةُ اللّٰهِ", "این یک آزمایش ساده است.", "یہ ایک سادہ جملہ ہے۔",
    # Hebrew with niqqud
    "שָׁלוֹם עוֹלָם", "זהו משפט בעברית עם מספרים 123.",
    # Hindi, Marathi, Bengali, Tamil, Telugu, Gujarati, Punjabi
    "नमस्ते दुनिया, आप कैसे हैं?", "हिन्दी में क्षत्रिय और ज्ञान शब्द।", "আমি বাংলায় গান গাই।", "வணக்கம் உலகம்!",
    "తెలుగు భాష చాలా అందమైనది.", "ગુજરાતી લિપિ સુંદર છે.", "ਪੰਜਾਬੀ ਬੋਲੀ ਮਿੱਠੀ ਹੈ।",
    # Thai, Lao, Khmer, Myanmar, Tibetan (no spaces between words, many marks)
    "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ", "สวัสดีครับ ผมชื่อสมชาย", "ພາສາລາວ", "ភាសាខ្មែរ", "မြန်မာဘာသာ", "བོད་ཡིག",
    # Cyrillic, Greek, Armenian, Georgian, Ethiopic, Cherokee, Mongolian
    "Съешь же ещё этих мягких французских булок, да выпей чаю.", "Ελληνικά: Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.",
    "Բարեւ աշխարհ", "გამარჯობა მსოფლიო", "ሰላም ለዓለም", "ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ", "ᠮᠣᠩᠭᠣᠯ ᠬᠡᠯᠡ",
    # Latin with diacritics: Vietnamese, Polish, Turkish, Icelandic, German, French
    "Tiếng Việt có nhiều dấu thanh điệu.", "Zażółć gęślą jaźń.", "İstanbul'da ılık bir gün.", "Þetta er íslenska.",
    "Straße, Größe, Maß — ẞ", "L'été où j'ai vu l'œuf.", "ǅemal, ǈubljana, ǋego (titlecase digraphs)",
    # Supplementary-plane letters: Deseret, Adlam, Osage, math alphanumerics, Gothic
    "𐐔𐐯𐑅𐐨𐑉𐐯𐐻 𐐜𐐲𐐭", "𞤀𞤣𞤤𞤢𞤥 𞤆𞤵𞤤𞤢𞤪", "𐒰𐓏𐒰𐓂", "𝐁𝐨𝐥𝐝 𝑰𝒕𝒂𝒍𝒊𝒄 𝔉𝔯𝔞𝔨𝔱𝔲𝔯", "𐌲𐌿𐍄𐌹𐍃𐌺",
]

EMOJI = [
    "😀", "👍", "👍🏽", "👩‍💻", "👨‍👩‍👧‍👦", "🧑🏿‍🚀", "🏳️‍🌈", "🏴‍☠️", "❤️", "❤️‍🔥", "🇺🇸", "🇯🇵", "🇪🇺", "🏴󠁧󠁢󠁳󠁣󠁴󠁿",
    "1️⃣", "#️⃣", "*️⃣", "©️", "™️", "☺", "☺️", "✌🏻", "🤷‍♀️", "🫶🏼", "🥲", "🪿", "🫨", "🧌", "🙂‍↔️", "🐦‍🔥",
]

CODE = [
    "def add(a, b):\n    return a + b\n",
    "for (let i = 0; i < n; i++) {\n\tsum += arr[i];\n}\n",
    "func count(_ text: String) -> Int {\n    encode(text).count\n}",
    "fn main() {\r\n    println!(\"Hello, {}!\", name);\r\n}\r\n",
    "SELECT id, name FROM users WHERE created_at > '2024-01-01' ORDER BY id DESC LIMIT 10;",
    "<div class=\"row\"><span id='x'>&amp; &lt;tag&gt;</span></div>",
    "if x != nil && y >= 0 || z <= -1 { return }",
    "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); }",
    "const re = /^[a-z0-9_-]{3,16}$/i; // username",
    "    # indented comment\n        nested = {'k': [1, 2, 3]}\n",
    "x := map[string]int{\"a\": 1}\n\tfmt.Println(x)",
    "$ curl -sS https://api.example.com/v1/chat/completions -H 'Authorization: Bearer sk-...'",
    "git commit -m \"Fix: don't crash on empty input\" && git push origin main",
    "// TODO(@alice): remove after 2025-12-31\n/* block */ /** doc */",
    "a//b///c////d\n//\n///\n",
    "=== ---- **** ____ ~~~~ #### !!!! ???? ...\n\n\n",
]

NUMBERS_EXTRA = [
    "٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹", "०१२३४५६७८९", "০১২৩৪৫৬৭৮৯", "０１２３４５６７８９", "①②③④⑤", "²³¹⁴", "½¼¾⅞",
    "ⅠⅡⅢⅣⅫ", "〇一二三", "𝟎𝟏𝟐𝟑𝟗", "๐๑๒๓", "፩፪፫", "𐌠𐌡", "𒐀𒐁",
]

WHITESPACE = [" ", " ", " ", "  ", "\t", "\n", "\n", "\r\n", "\r", "\n\n", "\u00a0", "\u0085", "\u2028", "\u2029", "\u3000",
              "\u000b", "\u000c", "\u1680", "\u2000", "\u2003", "\u2009", "\u200a", "\u202f", "\u205f", "\u200b",
              "\u180e", "\ufeff", "\u2060", " \n", "\t\n", " \r\n ", "   ", "\n \n", "\t\t"]

MARKS = [(0x0300, 0x036F), (0x0483, 0x0489), (0x0591, 0x05BD), (0x064B, 0x065F), (0x0900, 0x0903), (0x093A, 0x094F),
         (0x0E31, 0x0E31), (0x0E34, 0x0E3A), (0x0E47, 0x0E4E), (0x1AB0, 0x1ACE), (0x1DC0, 0x1DFF), (0x20D0, 0x20F0),
         (0xFE00, 0xFE0F), (0xFE20, 0xFE2F), (0x1D165, 0x1D169), (0xE0100, 0xE01EF), (0x0897, 0x089F)]

# (start, end) inclusive; a mix of scripts, symbols, marks, cased supplementary letters, blocks
# new in Unicode 15-17 and never-assigned ranges.
BLOCKS = [
    (0x0000, 0x007F), (0x0080, 0x00FF), (0x0100, 0x024F), (0x0250, 0x02FF), (0x0300, 0x036F), (0x0370, 0x03FF),
    (0x0400, 0x052F), (0x0530, 0x058F), (0x0590, 0x05FF), (0x0600, 0x06FF), (0x0700, 0x08FF), (0x0900, 0x097F),
    (0x0980, 0x0DFF), (0x0E00, 0x0EFF), (0x0F00, 0x0FFF), (0x1000, 0x10FF), (0x1100, 0x11FF), (0x1200, 0x139F),
    (0x13A0, 0x13FF), (0x1400, 0x167F), (0x1680, 0x16FF), (0x1700, 0x18AF), (0x1C80, 0x1CBF), (0x1D00, 0x1DFF),
    (0x1E00, 0x1FFF), (0x2000, 0x206F), (0x2070, 0x20CF), (0x20D0, 0x20FF), (0x2100, 0x218F), (0x2190, 0x23FF),
    (0x2460, 0x24FF), (0x2500, 0x27BF), (0x2800, 0x28FF), (0x2C00, 0x2DFF), (0x2E00, 0x2E7F), (0x2F00, 0x2FFF),
    (0x3000, 0x303F), (0x3040, 0x30FF), (0x3100, 0x31FF), (0x3200, 0x33FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF),
    (0xA000, 0xA4CF), (0xA4D0, 0xA6FF), (0xA700, 0xA7FF), (0xA800, 0xABFF), (0xAC00, 0xD7AF), (0xD7B0, 0xD7FF),
    (0xE000, 0xF8FF), (0xF900, 0xFAFF), (0xFB00, 0xFDFF), (0xFE00, 0xFE6F), (0xFE70, 0xFEFF), (0xFF00, 0xFFFF),
    (0x10000, 0x100FF), (0x10300, 0x1034F), (0x10400, 0x104FF), (0x105C0, 0x105FF), (0x10940, 0x1095F), (0x10D40, 0x10D8F),
    (0x10E80, 0x10EFF), (0x11000, 0x1107F), (0x11380, 0x113FF), (0x11BC0, 0x11BFF), (0x11DB0, 0x11DEF), (0x13000, 0x1345F),
    (0x16100, 0x1613F), (0x16A40, 0x16AFF), (0x16D40, 0x16D7F), (0x16E40, 0x16E9F), (0x16EA0, 0x16EDF), (0x16F00, 0x16FFF),
    (0x18D00, 0x18D8F), (0x1CC00, 0x1CEBF), (0x1D000, 0x1D24F), (0x1D400, 0x1D7FF), (0x1E030, 0x1E08F), (0x1E5D0, 0x1E5FF),
    (0x1E6C0, 0x1E6FF), (0x1E900, 0x1E95F), (0x1EE00, 0x1EEFF), (0x1F000, 0x1F0FF), (0x1F100, 0x1F2FF), (0x1F300, 0x1F64F),
    (0x1F650, 0x1F7FF), (0x1F800, 0x1FAFF), (0x1FB00, 0x1FBFF), (0x20000, 0x2A6DF), (0x2EBF0, 0x2EE5F), (0x30000, 0x3134F),
    (0x31350, 0x323AF), (0x323B0, 0x3347F), (0xE0000, 0xE007F), (0xE0100, 0xE01EF), (0xF0000, 0xF00FF), (0x10FF00, 0x10FFFF),
]


def _scalar(rng: random.Random, lo: int, hi: int) -> str:
    c = rng.randint(lo, hi)
    if 0xD800 <= c <= 0xDFFF:
        c = 0xFFFD
    return chr(c)


def _ws(rng: random.Random) -> str:
    return "".join(rng.choice(WHITESPACE) for _ in range(rng.choice((1, 1, 1, 2, 3, 5))))


def _word(rng: random.Random) -> str:
    w = rng.choice(WORDS)
    r = rng.random()
    if r < 0.1:
        return w.upper()
    if r < 0.25:
        return w.capitalize()
    return w


def _number(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.35:
        return str(rng.randint(0, 10 ** rng.randint(1, 12)))
    if r < 0.5:
        return "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 40)))
    if r < 0.6:
        return f"{rng.uniform(-1e6, 1e6):.{rng.randint(0, 8)}f}"
    if r < 0.67:
        return f"{rng.uniform(-1, 1):.3e}"
    if r < 0.75:
        return f"{rng.randint(0, 10**9):,}"
    if r < 0.82:
        return f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(1900, 2100)} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
    if r < 0.88:
        return "+1 (" + str(rng.randint(200, 999)) + ") 555-" + str(rng.randint(1000, 9999))
    s = rng.choice(NUMBERS_EXTRA)
    return "".join(rng.choice(s) for _ in range(rng.randint(1, 9)))


def _prose(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randint(1, 6)):
        words = [_word(rng) for _ in range(rng.randint(2, 18))]
        words[0] = words[0].capitalize()
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words)), _number(rng))
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words)), rng.choice(CONTRACTION_STEMS) + rng.choice(CONTRACTION_SUFFIXES[:8]))
        sentence = " ".join(words)
        if rng.random() < 0.2:
            sentence = sentence.replace(" ", ", ", 1)
        out.append(sentence + rng.choice([".", ".", "!", "?", "...", ":", ";", " —", "\"", ".)"]))
    return rng.choice([" ", " ", "  ", "\n", "\n\n"]).join(out)


def _contractions(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(1, 8)):
        stem = rng.choice(CONTRACTION_STEMS + ["", "", "x", "1", "é", "中", "ΑΒ", "  "])
        r = rng.random()
        if r < 0.3:
            stem = stem.upper()
        elif r < 0.4:
            stem = stem.swapcase()
        parts.append(stem + rng.choice(CONTRACTION_SUFFIXES) + rng.choice(["", "", "s", "t", "x", "e", "ll", "ve", "re", "!", "'s"]))
    return rng.choice([" ", "", "\n", " '"]).join(parts)


def _code(rng: random.Random) -> str:
    s = "".join(rng.choice(CODE) for _ in range(rng.randint(1, 3)))
    if rng.random() < 0.3:
        s = s.replace("\n", "\r\n")
    if rng.random() < 0.2:
        s = s.replace("    ", "\t")
    return s


def _json_value(rng: random.Random, depth: int):
    r = rng.random()
    if depth > 2 or r < 0.3:
        return rng.choice([_word(rng), _number(rng), rng.randint(-10**6, 10**6), rng.random(), True, False, None,
                           rng.choice(SCRIPTS)[:12], rng.choice(EMOJI)])
    if r < 0.65:
        return {_word(rng) + rng.choice(["", "_id", "Count", "-x"]): _json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    return [_json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]


def _json(rng: random.Random) -> str:
    return json.dumps(_json_value(rng, 0), ensure_ascii=rng.random() < 0.3, indent=rng.choice([None, None, 2, 4, "\t"]))


def _scripts(rng: random.Random) -> str:
    return _ws(rng).join(rng.choice(SCRIPTS) for _ in range(rng.randint(1, 3)))


def _emoji(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randint(1, 8)):
        out.append(rng.choice(EMOJI))
        if rng.random() < 0.4:
            out.append(rng.choice([" ", "", "", _word(rng), "!", "\n", "\u200d", "\ufe0f"]))
    return "".join(out)


def _marks(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randint(1, 12)):
        base = rng.choice(["a", "E", "z", "ß", "ω", "Ж", "ا", "क", "ก", "中", " ", "  ", "1", "٣", "!", "'", "", "\n", "\t", "ǅ", "ʰ", "a'"])
        lo, hi = rng.choice(MARKS)
        out.append(base + "".join(_scalar(rng, lo, hi) for _ in range(rng.randint(0, 3))))
        if rng.random() < 0.3:
            out.append(rng.choice(CONTRACTION_SUFFIXES))
    return "".join(out)


def _whitespace(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randint(1, 10)):
        out.append(_ws(rng))
        if rng.random() < 0.6:
            out.append(rng.choice([_word(rng), "'s", "1", "12345", "!", "?!", "/", "//", "中文", "é", "\u0301", "x"]))
    return "".join(out)


def _block(rng: random.Random) -> str:
    lo, hi = rng.choice(BLOCKS)
    out = []
    for _ in range(rng.randint(1, 24)):
        if rng.random() < 0.15:
            lo, hi = rng.choice(BLOCKS)
        out.append(_scalar(rng, lo, hi))
        if rng.random() < 0.15:
            out.append(rng.choice([" ", "a", "A", "1", "'s", "\n", ".", "\u00a0"]))
    return "".join(out)


def _any_scalar(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randint(1, 16)):
        r = rng.random()
        if r < 0.5:
            out.append(_scalar(rng, 0, 0x10FFFF))
        elif r < 0.8:
            out.append(_scalar(rng, 0, 0x2FFFF))
        else:
            out.append(_scalar(rng, 0, 0x7F))
    return "".join(out)


def _long(rng: random.Random) -> str:
    r = rng.random()
    length = rng.choice((50, 200, 500, 1000, 3000))
    if r < 0.2:
        return rng.choice("aAx.-=_ 1\n中é😀'") * length
    if r < 0.4:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(length))
    if r < 0.5:
        return "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabc") for _ in range(length))
    if r < 0.6:
        return "".join(rng.choice("0123456789") for _ in range(length))
    if r < 0.7:
        return "".join(rng.choice("!@#$%^&*()[]{}<>/\\|~`+=-_.,;:") for _ in range(length))
    if r < 0.8:
        s = rng.choice(SCRIPTS).replace(" ", "")
        return (s * (length // max(1, len(s)) + 1))[:length]
    if r < 0.9:
        return "".join(_scalar(rng, 0x4E00, 0x9FFF) for _ in range(length // 2))
    return " ".join("".join(rng.choice("abcdefghij") for _ in range(rng.randint(20, 200))) for _ in range(5))


def _mixed(rng: random.Random) -> str:
    gens = [_prose, _contractions, _code, _json, _number, _scripts, _emoji, _marks, _whitespace, _block, _any_scalar]
    return "".join(rng.choice(gens)(rng) + (_ws(rng) if rng.random() < 0.5 else "") for _ in range(rng.randint(2, 5)))


CATEGORIES = {
    "prose": (_prose, 14),
    "contractions": (_contractions, 6),
    "code": (_code, 8),
    "json": (_json, 6),
    "numbers": (lambda rng: " ".join(_number(rng) for _ in range(rng.randint(1, 6))), 6),
    "scripts": (_scripts, 10),
    "emoji": (_emoji, 6),
    "marks": (_marks, 6),
    "whitespace": (_whitespace, 8),
    "blocks": (_block, 10),
    "any_scalar": (_any_scalar, 5),
    "long": (_long, 2),
    "mixed": (_mixed, 13),
}
_GENERATORS = [gen for gen, _ in CATEGORIES.values()]
_WEIGHTS = [weight for _, weight in CATEGORIES.values()]


def curated() -> list[str]:
    """Hand-picked edge cases (about 200): every branch of both split patterns, each script and
    emoji sample above, whitespace oddities, special-token text, and a few long inputs."""
    rng = random.Random(2024)
    cases = [
        "", " ", "  ", "\n", "\t", "a", "hello world", "Hello, World!", "The quick brown fox jumps over the lazy dog.",
        "DON'T", "don't", "Don'T", "I'M HERE", "we'Re", "they'LL", "you'VE", "she'D", "'s", "'S", "''s", "'sup", "it’s",
        "dog's DOG'S Dog'S", "James' book", "rock 'n' roll", "'ſ", "x'ſ", "ſ", "can't've", "y'all'll", "O'Neil's", "l'été",
        "1", "12", "123", "1234", "12345", "1234567890123", "3.14159", "-42", "1,000,000", "1e-10", "0x1F600", "v1.2.3-rc.4",
        "٣٤٥", "१२३४", "１２３４５", "x²³", "½ cup", "Ⅻ", "〇一二", "2024-06-01T12:30:00Z", "$1,234.56", "50%", "#1",
        "a  b", "a\tb", "a\n\nb", "a\r\nb", "\r\n\r\n", "   leading", "trailing   ", "  \n  ", "\n\n  ", "a\u00a0b",
        "a\u2028b", "a\u3000b", "a\u0085b", "\u00a0\u00a0x", "x \u00a0 y", "\t\t\tindent", "line1\nline2\r\nline3\rline4",
        " \n \n ", "\u2029", "\u200bzero width", "a\u000bb\u000cc", "\u1680ogham", "a\u202fb\u205fc", "end\n", "end \n",
        "x\n\n\n\n", "x   \n   y", "\n \t\n\r\n x", "a/b//c///d", "a!\n/b", "foo!/\n\n", " !!!\n\n", "...\r\n\r\n",
        "https://example.com/a/b?c=d&e=f#g", "C:\\Windows\\System32", "/usr/local/bin//", "user@example.com",
        "<|endoftext|>", "<|fim_prefix|>x<|fim_suffix|>", "<|endofprompt|>", "<|im_start|>user",
        '{"model":"gpt-4o","messages":[{"role":"user","content":"Hi!"}]}',
        "def f(x):\n    return x ** 2  # square\n", "if (a && b) { return c; }", "SELECT * FROM t WHERE id = 1;",
        "e\u0301", "\u0301", " \u0301", "a\u0301\u0302\u0303", "1\u0301", "!\u0301", "Z\u0324\u0354\u0367\u0311a\u0308\u0356\u032d",
        "\u0301abc", "'\u0301s", "n\u0303o\u0308", "HELLO", "HelloWorld", "helloWORLD", "ǅemal", "中A", "A中", "ABCdef",
        "ʰʰʰ", "aʰA", "ΑΒΓαβγ", "ПРИВЕТмир", "ÉCOLE école", "İı", "ß ẞ", "ﬁnally", "Ⓐⓑ", "𝐀𝐁𝐂", "𐐀𐐨",
        "a\u1c89b", "x\u0897y", "x\U00016d40y", "x\U00011dd0's", "x\u20c1y", "\U000e0041\U000e007f", "\U000f0000",
        "\x00", "\x01\x02\x03", "\x7f", "\ufeffBOM", "\ufffd", "\uffff", "\U0010ffff",
        "a" * 3000, "中" * 1000, "7" * 1000, " " * 500, "\n" * 300, "ab" * 700, "'" * 400, "😀" * 200,
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(2000)),
        "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") for _ in range(1500)),
        "antidisestablishmentarianism " * 20,
    ]
    cases += SCRIPTS + EMOJI + CODE + NUMBERS_EXTRA
    cases += ["a" + w + "b" for w in WHITESPACE]
    return cases


def corpus(seed: int, n: int) -> list[str]:
    """``n`` varied strings, the same for the same ``seed``."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        gen = rng.choices(_GENERATORS, _WEIGHTS)[0]
        text = gen(rng)
        r = rng.random()
        if r < 0.05:
            text = _ws(rng) + text
        elif r < 0.1:
            text = text + _ws(rng)
        out.append(text)
    return out


def fixture(path: str) -> None:
    """Writes the Swift test fixture (one case per line): ``curated()`` plus 50 ``corpus(2024, ...)``
    strings of up to 600 characters, each with tiktoken's ``encode_ordinary`` ids for cl100k_base
    and o200k_base. Needs tiktoken and its two ranks files (or network access)."""
    import tiktoken

    encodings = {name: tiktoken.get_encoding(name) for name in ("cl100k_base", "o200k_base")}
    texts = curated() + [t for t in corpus(2024, 200) if len(t) <= 600][:50]
    source = "tests/compat/tokenizer_corpus.py fixture(); ids from tiktoken " + tiktoken.__version__ + " encode_ordinary"
    lines = []
    for t in texts:
        case = {"text": t, **{name: enc.encode_ordinary(t) for name, enc in encodings.items()}}
        lines.append(json.dumps(case, ensure_ascii=True, separators=(",", ":")))
    with open(path, "w", encoding="ascii") as f:
        f.write('{"source":' + json.dumps(source) + ',"cases":[\n' + ",\n".join(lines) + "\n]}\n")


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 2 and sys.argv[1] == "--fixture":
        fixture(sys.argv[2])
    else:
        seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
        count = int(sys.argv[2]) if len(sys.argv) > 2 else 20
        for item in corpus(seed, count):
            print(repr(item))
