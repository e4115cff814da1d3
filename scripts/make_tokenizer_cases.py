#!/usr/bin/env python3
"""Writes Tests/Fixtures/tokenizer/parity.json: a few hundred random and adversarial
strings with the ids tiktoken's GPT-2 encoding gives them, for the Swift parity tests.

Each entry is {"text", "ids"} where ids = encode(text, allowed_special="all"); entries whose text
contains "<|endoftext|>" also carry "ordinary_ids" = encode_ordinary(text). The strings mix ASCII,
CJK, emoji (with modifiers and ZWJ), combining marks, every White_Space scalar (incl. \\r\\n,
U+00A0, U+3000, U+0085), near-whitespace controls (U+001C…U+001F, U+200B, U+FEFF), digits and
numbers of other scripts, apostrophes and contractions in both cases, random assigned code points
of every plane, and long pieces (thousands of bytes) that exercise the long-piece merge path.

    python3 scripts/make_tokenizer_cases.py            # seed 2026, default output path
"""
import argparse
import json
import os
import random
import sys
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_tokenizer_tiktoken import load_encoding  # noqa: E402

POOLS = {
    "ascii_words": ["the", "The", "quick", "brown", "FOX", "jumps", "over", "lazy", "dog", "a", "I", "x",
                    "hello", "world", "GPT", "token", "izer", "Swift", "func", "return", "café", "naïve"],
    "ascii_punct": list("!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~") + ["...", "--", "->", "==", "!=", "//", "/*", "*/", "${", "}}"],
    "apostrophes": ["'", "''", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'LL",
                    "'x", "'ss", "'lll", "'rex", "’s", "‘", "`", "don't", "it's", "we're", "I'M", "y'all", "o'clock"],
    "digits": ["0", "1", "42", "2026", "3.14159", "1,000,000", "007", "12345678901234567890", "-5", "1e9", "0x1F"],
    "other_numbers": ["٠١٢٣", "०१२३", "১২৩", "１２３", "Ⅰ", "Ⅻ", "ⅷ", "²", "³", "½", "¼", "①", "⑳", "〇", "〡",
                      "𝟘𝟙", "𐄇", "𒐀", "፩", "௰"],
    "whitespace": [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\r", "\u00a0", "\u3000", "\u2028", "\u2029",
                   "\u0085", "\u000b", "\u000c", "\u1680", "\u2000", "\u2003", "\u2009", "\u200a", "\u202f",
                   "\u205f", " \n", "\n ", " \t ", "\r\n\r\n", "\t\t", " \u00a0 ", "\u3000\u3000"],
    "near_whitespace": ["\u001c", "\u001d", "\u001e", "\u001f", "\u200b", "\u200c", "\u200d", "\ufeff", "\u180e",
                        "\u0000", "\u0001", "\u007f", "\u00ad", "\u2060", "\u200e"],
    "cjk": ["您好", "张三", "先生", "我了解您是一位程序员", "对编程和游戏很感兴趣", "客户", "产品", "话术", "人工智能",
            "日本語", "のテキスト", "カタカナ", "ひらがな", "한국어", "안녕하세요", "中", "文", "龍", "𠀀", "𪚥", "丶"],
    "cjk_punct": ["，", "。", "、", "：", "；", "！", "？", "「", "」", "（", "）", "《", "》", "…", "—", "～", "·"],
    "emoji": ["🚀", "🔥", "😀", "👍", "👍🏽", "👨‍👩‍👧", "🇨🇳", "🇺🇸", "1️⃣", "❤️", "🀄", "🙏🏻", "🧑‍💻", "☕", "✨"],
    "combining": ["e\u0301", "a\u0308", "\u0301", "\u0308\u0301", "n\u0303", "हिन्दी", "क्षि", "שָׁלוֹם", "مَرْحَبًا",
                  "Z\u0351\u0352\u0353", "ก่", "ñ", "à̀"],
    "letters": ["Россия", "Ελλάδα", "العربية", "עברית", "ไทย", "हिन्दी", "ქართული", "Հայերեն", "ግዕዝ", "ʰ", "ǅ",
                "ß", "Ǆ", "ﬁ", "Ａ", "ｱｲｳ", "𝐀𝐁", "𐌰𐌱", "ꓐ", "ᚠᛇ"],
    "symbols": ["∑", "∫", "√", "€", "¥", "£", "$", "©", "®", "™", "°", "±", "×", "÷", "─", "█", "♥", "←", "⌘",
                "\ue000", "\U000f0000", "¬", "¦", "§", "¶"],
    "special": ["<|endoftext|>", "<|endoftext|", "<|endoftext|><|endoftext|>", "<|", "|>", "<|endoftext|>x"],
}


def random_assigned(rng):
    """A random assigned, non-surrogate code point, drawn from all planes (BMP weighted)."""
    while True:
        r = rng.random()
        if r < 0.6:
            cp = rng.randrange(0x80, 0x10000)
        elif r < 0.9:
            cp = rng.randrange(0x10000, 0x30000)
        else:
            cp = rng.randrange(0x30000, 0x110000)
        if 0xD800 <= cp < 0xE000:
            continue
        if unicodedata.category(chr(cp)) == "Cn":
            continue
        return chr(cp)


def random_text(rng, chunks):
    names = list(POOLS)
    weights = [6, 3, 3, 2, 1, 5, 1, 4, 2, 2, 2, 2, 1, 1]
    parts = []
    for _ in range(chunks):
        r = rng.random()
        if r < 0.08:
            parts.append("".join(random_assigned(rng) for _ in range(rng.randint(1, 4))))
        else:
            pool = rng.choices(names, weights=weights)[0]
            parts.append(rng.choice(POOLS[pool]))
        if rng.random() < 0.4:
            parts.append(" ")
    return "".join(parts)


def fixed_cases():
    cases = [
        "", " ", "  ", "\n", "\r\n", "a", "'", "'s", "''s", " 's", "x's", "X'S", "it's'", "'s's",
        "a  b", "a   b", "a \tb", "a\t b", "a \u3000b", "a\u3000 b", "a \u00a0b", "a\u00a0\u00a0b",
        "hello \n", "hello\n ", "hello \n world", "  \n  x", " \r\n x", "word  ", "word \t", "\t\tword",
        "1 2  3   4", "a1b2", "٣٤x", "²³x", "½ cup", "Ⅻ o'clock", "e\u0301e\u0301", "\u0301a", " \u0301",
        "🚀🚀🚀", " 🚀", "🇨🇳🇺🇸", "👨‍👩‍👧‍👦", "你好，世界！", " 你好", "\u3000你好",
        "<|endoftext|>", "a<|endoftext|>b", " <|endoftext|> ", "<|endoftext|>\n\n", "<|endoftext|",
        "<|endoftext|><|endoftext|>", "text  <|endoftext|>  text",
        "\u0000\u0001\u0002", "\u001c\u001d\u001e\u001f", "x\u001fy", " \u001f", "\u0085x", "x\u2028y",
        "\ufeffBOM", "soft\u00adhyphen", "zero\u200bwidth", "ｆｕｌｌ　ｗｉｄｔｈ",
        # Long pieces: the merge loop's long-piece path and whitespace runs.
        "人工智能" * 80, "8" * 700, "1234567890" * 60, " " * 300 + "x", "\n" * 200, "\t \n" * 100,
        "a" * 1000, "ab" * 400, "🚀" * 150, "é" * 300, "\u0301" * 300, " " + "語" * 400,
        "!" * 500, "x" + " " * 257 + "y", "Ġ" * 200,
    ]
    return cases


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=os.path.join(root, "Models", "sales-demo"))
    p.add_argument("--out", default=os.path.join(root, "Tests", "GPT2Tests", "Fixtures", "tokenizer", "parity.json"))
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--count", type=int, default=400, help="number of random strings")
    args = p.parse_args()

    enc = load_encoding(args.model)
    rng = random.Random(args.seed)
    texts = fixed_cases()
    for i in range(args.count):
        texts.append(random_text(rng, rng.randint(1, 12 if i % 3 else 40)))
    entries = []
    for text in texts:
        entry = {"text": text, "ids": enc.encode(text, allowed_special="all")}
        if "<|endoftext|>" in text:
            entry["ordinary_ids"] = enc.encode_ordinary(text)
        assert enc.decode(entry["ids"]) == text
        entries.append(entry)
    with open(args.out, "w", encoding="ascii") as f:
        f.write("[\n")
        f.write(",\n".join(json.dumps(e, ensure_ascii=True, separators=(",", ":")) for e in entries))
        f.write("\n]\n")
    print(f"wrote {len(entries)} cases, {os.path.getsize(args.out)} bytes, to {args.out}")


if __name__ == "__main__":
    main()
