#!/usr/bin/python3
"""Generates the tokenizer test cases in tests/data/tokenizer/:

  cases.txt      text (or bytes) -> GPT-2 token ids, one case a line:
                 TAG <tab> HEX(input bytes) <tab> comma-separated ids
                 TAG is "all" (the Python reference and the four npm
                 tokenizers agree), "py" (the Python reference and tiktoken
                 agree; the three tokenizers built on V8's regex engine
                 differ, only because JavaScript's \s counts U+FEFF and not
                 U+0085), "bytes" (invalid UTF-8: Python reference only, see
                 below) or "special" (tokenized with GPT2_TOKENIZE_SPECIAL;
                 Python, tiktoken and js-tiktoken agree: the other two have
                 no working option for it).
  roundtrip.txt  the token ids whose own bytes do not tokenize back to
                 themselves: id <tab> comma-separated ids.

The primary reference is OpenAI's GPT-2 encoder algorithm (encoder.py:
the pre-tokenizer pattern run by Python's `regex` module, then the
byte-pair loop), reimplemented below. Invalid UTF-8 is decoded with
'surrogateescape', so each invalid byte becomes one lone surrogate, which
the pattern treats as a character that is neither letter, number nor
space: that is libgpt2's documented policy (each invalid byte is one
"other" character, as U+FFFD would be).

Second opinions: the npm packages gpt-3-encoder, js-tiktoken,
gpt-tokenizer and tiktoken (OpenAI's Rust code as WebAssembly), run by
tools/gen/gen_tokenizer_cases.js. Install them outside the repository, then:

  npm install --prefix /tmp/tokref gpt-3-encoder js-tiktoken gpt-tokenizer tiktoken
  NODE_PATH=/tmp/tokref/node_modules tools/gen/gen_tokenizer_cases.py

Deterministic (fixed seed). Run from the repository root.
"""
import json
import os
import random
import subprocess
import sys

import regex

PATTERN = regex.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
EOT = "<|endoftext|>"
UCD = "/usr/share/unicode"
OUT_DIR = "tests/data/tokenizer"


# ---- the reference ---------------------------------------------------------

def byte_to_char_map():
    """GPT-2's printable stand-in for each byte."""
    printable = set(range(0x21, 0x7F)) | set(range(0xA1, 0xAD)) | set(range(0xAE, 0x100))
    mapping, next_extra = {}, 0x100
    for byte in range(256):
        if byte in printable:
            mapping[byte] = chr(byte)
        else:
            mapping[byte] = chr(next_extra)
            next_extra += 1
    return mapping


class Gpt2Reference:
    def __init__(self, vocab_path, merges_path):
        with open(vocab_path, encoding="utf-8") as f:
            self.ids = json.load(f)
        with open(merges_path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        merges = [tuple(line.split()) for line in lines[1:] if line]
        self.ranks = {pair: rank for rank, pair in enumerate(merges)}
        self.byte_char = byte_to_char_map()
        self.char_byte = {c: b for b, c in self.byte_char.items()}
        self.texts = {i: t for t, i in self.ids.items()}
        self.cache = {}

    def merge_word(self, word):
        if word in self.cache:
            return self.cache[word]
        symbols = list(word)
        while len(symbols) > 1:
            ranked = [(self.ranks.get(pair), i) for i, pair in
                      enumerate(zip(symbols, symbols[1:]))]
            ranked = [r for r in ranked if r[0] is not None]
            if not ranked:
                break
            best = symbols[min(ranked)[1]], symbols[min(ranked)[1] + 1]
            merged, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    merged.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            symbols = merged
        self.cache[word] = symbols
        return symbols

    def encode_text(self, text):
        """text: a str, possibly with surrogate escapes for invalid bytes."""
        ids = []
        for piece in PATTERN.findall(text):
            raw = piece.encode("utf-8", "surrogateescape")
            word = "".join(self.byte_char[b] for b in raw)
            ids.extend(self.ids[symbol] for symbol in self.merge_word(word))
        return ids

    def encode_bytes(self, data, special=False):
        text = data.decode("utf-8", "surrogateescape")
        if not special:
            return self.encode_text(text)
        ids = []
        for i, part in enumerate(text.split(EOT)):
            if i:
                ids.append(self.ids[EOT])
            ids.extend(self.encode_text(part))
        return ids

    def token_bytes(self, token_id):
        return bytes(self.char_byte[c] for c in self.texts[token_id])


# ---- Unicode data -----------------------------------------------------------

def read_ucd_fields(name):
    with open(os.path.join(UCD, name), encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                yield [x.strip() for x in line.split(";")]


def code_points_by_category():
    by_category, first = {}, None
    for fields in read_ucd_fields("UnicodeData.txt"):
        cp, name, category = int(fields[0], 16), fields[1], fields[2]
        if name.endswith(", First>"):
            first = cp
            continue
        start = first if name.endswith(", Last>") else cp
        first = None
        if category == "Cs":
            continue
        by_category.setdefault(category, []).extend(range(start, cp + 1))
    return by_category


def code_points_by_script():
    by_script = {}
    for fields in read_ucd_fields("Scripts.txt"):
        lo, _, hi = fields[0].partition("..")
        by_script.setdefault(fields[1], []).extend(range(int(lo, 16), int(hi or lo, 16) + 1))
    return by_script


def white_space():
    spaces = []
    for fields in read_ucd_fields("PropList.txt"):
        if fields[1] == "White_Space":
            lo, _, hi = fields[0].partition("..")
            spaces.extend(range(int(lo, 16), int(hi or lo, 16) + 1))
    return [chr(c) for c in spaces]


# ---- the cases --------------------------------------------------------------

# Not White_Space, though some look like it or are "space" elsewhere
# (str.isspace says yes to U+001C..U+001F; JavaScript's \s to U+FEFF).
NEAR_SPACES = ["\u200b", "\ufeff", "\u180e", "\u2060", "\x1c", "\x1d", "\x1e", "\x1f", "\x00"]

CONTRACTIONS = ["s", "t", "re", "ve", "m", "ll", "d"]

EMOJI = [
    "\U0001F600", "\U0001F44D\U0001F3FD", "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466",
    "\U0001F1FA\U0001F1F8", "\U0001F1EB\U0001F1F7\U0001F1EF\U0001F1F5", "1\ufe0f\u20e3", "#\ufe0f\u20e3",
    "\u2764\ufe0f", "\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F",
    "\U0001F469\U0001F3FE\u200d\U0001F4BB", "\U0001F3F3\ufe0f\u200d\U0001F308", "\u263a\ufe0e",
    "\U0001F9D1\u200d\U0001F91D\u200d\U0001F9D1", "\U0001FAE0", "\U0001F408\u200d\u2B1B",
]

CODE = [
    'int main(void) {\n  printf("hello, world\\n");\n  return 0;\n}\n',
    "def f(x):\n    return [i ** 2 for i in range(x) if i % 3 == 0]\n\n\nprint(f(10))\n",
    "\tif (a && b || !c) { x += y >> 2; } else { x = ~y; }\r\n",
    '{"key": [1, 2.5e-3, true, null], "nested": {"k\\u00e9y": "v"}}',
    "<html><head><title>T&amp;T</title></head>\n<body class=\"x\">&nbsp;</body></html>",
    "for f in *.txt; do grep -E '^[a-z]+$' \"$f\" | sort -u >> out.log; done",
    "SELECT id, name FROM users WHERE age >= 18 AND name LIKE '%son';",
    "const re = /^(?:\\d{3}-)?\\d{4}$/u; let s = `x=${a + b}`;",
    "    # indented comment\n        deeper();\n\t\tmixed();\n",
    "fn main() -> Result<(), Box<dyn Error>> { let v: Vec<u8> = vec![0xFF; 16]; Ok(()) }",
    "x = a[i][j]; y = b->c.d; z = *p++; w = &q;",
    "/* multi\n * line\n */\n// trailing  \n",
    "#include <stdio.h>\n#define MAX(a, b) ((a) > (b) ? (a) : (b))\n",
    "if __name__ == '__main__':\n    main()\n",
    "https://example.com/path/to/page?query=1&lang=en#section-2",
    "http://user:pass@host.example.org:8080/a%20b/c.html",
    "mailto:someone@example.net, ftp://files.example.com/pub/file.tar.gz",
    "Visit www.example.co.uk or https://xn--nxasmq6b.example/ for more.",
    "C:\\Program Files\\App\\bin\\app.exe --flag=value -v",
    "/usr/local/lib/libgpt2.so.0.1.0 -> libgpt2.so.0",
    "| col1 | col2 |\n|------|------|\n| a    | b    |\n",
    "**bold** _italic_ `code` [link](http://x.y) ![img](a.png)",
    "2024-01-31T23:59:59.999Z 192.168.0.1 [::1]:443 0x7fffffff 1e10 -3.14",
    "$ ./configure --prefix=/usr && make -j8 && sudo make install",
    "a=1;b=2;c=a+b;print(c)#done",
    "@decorator\nclass Foo(Bar, metaclass=Meta):\n    pass\n",
    "<|endoftext|>", "hello <|endoftext|> world", "<|endoftext|><|endoftext|>",
    "<|endoftext|", "<|endoftext|>\n\nNext document", "x<|endoftext|>y",
]

PROSE = [
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure you'll agree: it's what they'd've wanted, isn't it?",
    "Don't SHOUT, I CAN'T hear you'RE SAYING 'hello'.",
    "Café, naïve, résumé, façade, Ångström, Øresund, Dvořák, Łódź.",
    "Привет, мир! Как дела? Это тест токенизатора.",
    "Γειά σου Κόσμε· η ελληνική γλώσσα.",
    "שלום עולם, זהו מבחן. مرحبا بالعالم، هذا اختبار.",
    "こんにちは世界。日本語のテキストです、カタカナも。",
    "你好，世界！这是一个测试。中文没有空格。",
    "안녕하세요 세계! 한국어 텍스트입니다.",
    "नमस्ते दुनिया। हिन्दी पाठ है। ১২৩ ४५६",
    "สวัสดีชาวโลก นี่คือการทดสอบ",
    "Tiếng Việt có dấu: Trường Đại học Bách khoa.",
    "ሰላም ዓለም። ქართული ენა. Հայերեն լեզու. ᚠᚢᚦᚨᚱᚲ",
    "Math: ∀x∈ℝ, x² ≥ 0; ∑ᵢ aᵢ = ½·π ≈ 1.5708… ∞ ≠ ∅",
    "Prices: $5, €10, £20, ¥3000, ₹500, 50%, 3½ cups, №7.",
    "Smart “quotes” and ‘single’ quotes — dashes – and ellipses…",
    "Hello\n\nWorld\n\n\n  indented\n\ttabbed\r\nCRLF line\n",
    "   leading spaces and trailing spaces   ",
    "Multiple     spaces    between\twords\t\tand\n\n\n\nnewlines",
]


def hand_cases():
    cases = [("hello world", False), ("hello <|endoftext|>", True),
             ("<|endoftext|>", True), ("a<|endoftext|>b<|endoftext|>", True),
             ("<|endoftext|> x <|endoftext|", True), ("", False)]
    cases += [("0" * n, False) for n in range(1, 21)]
    cases += [(t, False) for t in CODE + PROSE]
    cases += [("a   b", False), ("a   ", False), ("   a", False), (" ", False),
              ("\n", False), ("a\nb", False), ("a \nb", False), ("a\n b", False),
              ("a\n\n b", False), ("a \n\n b", False), ("a\t b", False), ("a \tb", False)]
    return cases


def whitespace_cases(spaces):
    patterns = ["a{c}b", "a{c}{c}b", "a {c}b", "a{c} b", "{c}", "{c}{c}", "a{c}",
                "{c}a", " {c}", "{c} ", "a{c}{c}{c} b", "x{c}\n{c}y", "1{c}2",
                "!{c}?", "'{c}s", "{c}'s", " {c} {c} a", "a {c}{c} 1"]
    return [pattern.format(c=c) for c in spaces + NEAR_SPACES for pattern in patterns]


def contraction_cases():
    out = []
    for c in CONTRACTIONS:
        for variant in sorted({c, c.upper(), c.capitalize()}):
            for before in ["", "x", " ", "1", "!", "'", "  "]:
                for after in ["", "x", " y", "'"]:
                    out.append(before + "'" + variant + after)
    out += ["''s", "'", "'x", "'re'", "'ll've", "''", "' s", "it's'nt", "''ll",
            "I'M", "y'all'd've", "’s curly", "'\u00e9", "'S'S's"]
    return out


def digit_cases(by_category, rng):
    digits = by_category["Nd"]
    out = ["3.14159", "1,000,000", "-42", "1e-9", "0x1F", "12:30", "v1.2.3",
           "2024年1月", "¹²³ ⁴⁵", "½ ¾ ⅓", "Ⅻ Ⅳ ⅷ", "٣٤٥ ١٢", "१२३४", "𝟙𝟚𝟛", "①②③",
           "a1b2c3", "123abc456", " 1 2  3   4"]
    for _ in range(40):
        zero = rng.choice(digits) & ~0xF  # digit sets start at a ...0 or ...6
        run = "".join(chr(rng.choice(digits)) for _ in range(rng.randint(1, 12)))
        out.append(run + rng.choice(["", " ", "x", ".", " 7"]) + chr(zero))
    for category in ("Nl", "No"):
        for _ in range(10):
            out.append(" ".join("".join(chr(rng.choice(by_category[category]))
                                        for _ in range(rng.randint(1, 4)))
                                for _ in range(rng.randint(1, 4))))
    return out


def emoji_cases(rng):
    out = list(EMOJI)
    out += ["I " + e + " it" for e in EMOJI] + [e + e + " " + e for e in EMOJI]
    for _ in range(40):
        out.append("".join(chr(rng.randint(0x1F300, 0x1FAFF)) +
                           rng.choice(["", "", " ", "\u200d", "\ufe0f", "a", "\U0001F3FB"])
                           for _ in range(rng.randint(1, 8))))
    return out


def combining_cases(by_category, rng):
    marks = by_category["Mn"] + by_category["Me"] + by_category["Mc"]
    out = ["e\u0301", "a\u0300\u0301\u0302", " \u0301", "\u0301a", "x \u0308y",
           "Z\u0351\u0346\u035e\u0362a\u0363\u0364l\u0365g\u0366o\u0367",
           "\u1100\u1161\u11a8", "क्षत्रिय", "e\u0301 e\u0301", "1\u20e3", "a\u200d\u0301b"]
    for _ in range(60):
        base = rng.choice(["a", " ", "1", "!", "\u4e00", "", "\n", "'"])
        out.append(base + "".join(chr(rng.choice(marks)) for _ in range(rng.randint(1, 5))) +
                   rng.choice(["", "b", " c", "2", "?"]))
    return out


def category_cases(by_category, rng):
    out = []
    for category in sorted(by_category):
        pool = by_category[category]
        for _ in range(4):
            chars = [chr(rng.choice(pool)) for _ in range(rng.randint(1, 10))]
            glue = [rng.choice(["", "", " ", "a", "1", "'", "  ", "\n", "."]) for _ in chars]
            out.append("".join(g + c for g, c in zip(glue, chars)))
    return out


def script_cases(by_script, rng):
    out = []
    for script in sorted(by_script):
        pool = by_script[script]
        for _ in range(3):
            words = ["".join(chr(rng.choice(pool)) for _ in range(rng.randint(1, 8)))
                     for _ in range(rng.randint(1, 6))]
            seps = [rng.choice([" ", " ", ", ", ". ", "\n", "  ", "-", " 12 "]) for _ in words]
            out.append("".join(w + s for w, s in zip(words, seps)).rstrip(" "))
    return out


def plane_cases(rng):
    out = []
    for plane in (0, 1, 2, 3, 14, 15, 16):
        for _ in range(15):
            chars = []
            for _ in range(rng.randint(1, 30)):
                cp = rng.randint(plane << 16, (plane << 16) | 0xFFFF)
                if 0xD800 <= cp <= 0xDFFF:
                    cp = 0xFFFD
                chars.append(chr(cp) + rng.choice(["", "", "", " ", "a"]))
            out.append("".join(chars))
    return out


ATOMS = (["a", "b", "Z", "é", "ß", "Ж", "中", "文", "ا", "1", "7", "٣", "½", "Ⅸ", " ", " ",
          "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2028", "\u0085", "\ufeff", "\u200b",
          "'", "'s", "'LL", "'ll", "'ve", "!", ".", ",", "?", "-", "_", "(", ")", "\"", "\u0301",
          "\U0001F600", "\u200d", "\U0001F1FA", "<|endoftext|>", "http://", "\x00", "\x7f"])


def random_mix_cases(rng, count, atoms=ATOMS):
    return ["".join(rng.choice(atoms) for _ in range(rng.randint(1, 60))) for _ in range(count)]


def document(rng, words, n_words):
    """A synthetic document: vocabulary words, punctuation, numbers, lines."""
    parts = []
    for i in range(n_words):
        r = rng.random()
        if r < 0.03:
            parts.append(rng.choice([".\n\n", ".\n", ",", ";", ":", "!", "?", " -", " (", ")"]))
        elif r < 0.05:
            parts.append(" " + str(rng.randint(0, 10 ** rng.randint(1, 6))))
        elif r < 0.06:
            parts.append(rng.choice(["'s", "'t", "'re", "'ll", "\n    ", "\t", "  "]))
        parts.append(rng.choice(words))
    return "".join(parts)


def document_cases(rng, reference):
    english = [t for t in (reference.token_bytes(i) for i in range(50000))
               if len(t) > 2 and t[0] == 0x20 and t[1:].isalpha()]
    english = [t.decode() for t in english]
    cjk = [chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(3000)] + ["，", "。", "、", "「", "」"]
    mixed = english[:3000] + [" " + w for w in PROSE] + cjk[:500] + EMOJI
    docs = [document(rng, english, n) for n in (4000, 2500, 1500)]
    docs.append("".join(rng.choice(cjk) for _ in range(4000)))
    docs.append(document(rng, mixed, 2500))
    docs.append("\n".join(CODE * 3))
    return docs


def invalid_cases(rng):
    fragments = [b"\x80", b"\xbf", b"\xc0\x80", b"\xc1\xbf", b"\xc2", b"\xe2\x82", b"\xe2",
                 b"\xf0\x9f\x98", b"\xf0\x9f", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xe0\x80\xaf",
                 b"\xf0\x80\x80\x80", b"\xf4\x90\x80\x80", b"\xf5", b"\xf8\x88\x80\x80\x80",
                 b"\xfe", b"\xff", b"\xc3\x28", b"\xe2\x28\xa1"]
    valid = [b"a", b" ", b"  ", b"1", b"'s", b"\n", b"\xc3\xa9", b"\xe4\xb8\xad", b"!", b" x",
             b"\xf0\x9f\x98\x80", b"\t", b"\xc2\x85", b"'"]
    out = [bytes([b]) for b in range(0x80, 0x100)]
    for _ in range(120):
        out.append(b"".join(rng.choice(fragments if rng.random() < 0.4 else valid)
                            for _ in range(rng.randint(1, 20))))
    for _ in range(60):
        out.append(bytes(rng.randint(0, 255) for _ in range(rng.randint(1, 40))))
    return out


# ---- agreement --------------------------------------------------------------

def npm_answers(texts, special_flags):
    node_path = os.environ.get("NODE_PATH", "/tmp/tokref/node_modules")
    payload = "\n".join(json.dumps({"text": t, "special": s})
                        for t, s in zip(texts, special_flags)) + "\n"
    result = subprocess.run(["node", os.path.join(os.path.dirname(__file__), "gen_tokenizer_cases.js")],
                            input=payload, capture_output=True, text=True, check=True,
                            env=dict(os.environ, NODE_PATH=node_path))
    return [json.loads(line) for line in result.stdout.splitlines()]


def main():
    rng = random.Random(20240531)
    reference = Gpt2Reference("tests/data/gpt2/vocab.json", "tests/data/gpt2/merges.txt")
    by_category = code_points_by_category()
    by_script = code_points_by_script()

    texts = hand_cases()
    plain = (whitespace_cases(white_space()) + contraction_cases() +
             digit_cases(by_category, rng) + emoji_cases(rng) +
             combining_cases(by_category, rng) + category_cases(by_category, rng) +
             script_cases(by_script, rng) + plane_cases(rng) +
             random_mix_cases(rng, 300) + document_cases(rng, reference))
    texts += [(t, False) for t in plain]
    # With specials, the V8-based second opinion is js-tiktoken alone: leave
    # out the two characters where its \s differs.
    special_atoms = [a for a in ATOMS if a not in ("\u0085", "\ufeff")]
    texts += [(t, True) for t in random_mix_cases(rng, 30, special_atoms)]
    seen, unique = set(), []
    for text, special in texts:
        if (text, special) not in seen:
            seen.add((text, special))
            unique.append((text, special))
    texts = unique

    answers = npm_answers([t for t, _ in texts], [s for _, s in texts])
    lines, dropped, tags = [], [], {}
    for (text, special), npm in zip(texts, answers):
        data = text.encode("utf-8")
        ours = reference.encode_bytes(data, special)
        v8_based = [a for a in (npm["gpt3"], npm["tiktoken"], npm["gpttok"]) if a is not None]
        if npm["rust"] != ours:
            dropped.append(text)
            continue
        if all(a == ours for a in v8_based):
            tag = "special" if special else "all"
        elif not special and ("\u0085" in text or "\ufeff" in text):
            tag = "py"
        else:
            dropped.append(text)
            continue
        tags[tag] = tags.get(tag, 0) + 1
        lines.append("%s\t%s\t%s" % (tag, data.hex(), ",".join(map(str, ours))))
    for data in invalid_cases(rng):
        tags["bytes"] = tags.get("bytes", 0) + 1
        lines.append("bytes\t%s\t%s" % (data.hex(), ",".join(map(str, reference.encode_bytes(data)))))

    os.makedirs(OUT_DIR, exist_ok=True)
    with open(os.path.join(OUT_DIR, "cases.txt"), "w") as f:
        f.write("# Generated by tools/gen/gen_tokenizer_cases.py; see it for the format.\n")
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(OUT_DIR, "roundtrip.txt"), "w") as f:
        f.write("# Generated by tools/gen/gen_tokenizer_cases.py: tokens whose bytes do not\n"
                "# tokenize back to the token (id <tab> ids they give).\n")
        for token_id in range(len(reference.texts)):
            ids = reference.encode_bytes(reference.token_bytes(token_id))
            if ids != [token_id]:
                f.write("%d\t%s\n" % (token_id, ",".join(map(str, ids))))
    print("cases: %s; dropped (references disagree): %d" % (tags, len(dropped)), file=sys.stderr)
    for text in dropped:
        print("  dropped: %r" % text[:80], file=sys.stderr)


if __name__ == "__main__":
    main()
