"""generate serve against the real `openai` Python client (PyPI), with only base_url and api_key
set, as the customers' existing scripts call the hosted API."""
import os
import re
import subprocess
import threading
import unittest
from pathlib import Path

import openai

ROOT = Path(__file__).resolve().parents[2]
# scripts/test passes the generate that `swift test` just built
GENERATE = Path(os.environ.get("GENERATE", ROOT / ".build" / "release" / "generate"))
CHINESE = "客户：张伟，30岁，男，程序员。兴趣：编程、游戏。行为：最近搜索了人工智能课程。\n产品：人工智能实战训练营\n话术："
ENGLISH = ("Customer: Olivia Brown, 34, nurse. Interests: yoga, travel. Recently viewed high-end cameras.\n"
           "Product: AuroraShot X2 mirrorless camera (e-commerce)\nPitch:")


class Server:
    """generate serve on a free loopback port, stopped by SIGTERM."""

    def __init__(self, *arguments):
        self.process = subprocess.Popen([str(GENERATE), "serve", "--port", "0", *arguments],
                                        stderr=subprocess.PIPE, text=True)
        line = self.process.stderr.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/v1", line)
        if not match:
            self.process.kill()
            raise RuntimeError(f"generate serve did not start: {line}")
        self.base_url = f"http://127.0.0.1:{match.group(1)}/v1"
        self.log = []
        threading.Thread(target=lambda: self.log.extend(self.process.stderr), daemon=True).start()

    def client(self, api_key="unused"):
        return openai.OpenAI(base_url=self.base_url, api_key=api_key, max_retries=0, timeout=120)

    def stop(self):
        self.process.terminate()
        return self.process.wait(timeout=60)


class OpenAIClientTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("--model-alias", "text-davinci-003")
        cls.client = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0

    def test_the_seed_call(self):
        # the customers' call, unchanged but for base_url
        response = self.client.completions.create(model="text-davinci-003", prompt=CHINESE, max_tokens=150, temperature=0.7)
        choice = response.choices[0]
        self.assertIn(choice.finish_reason, ("stop", "length"))
        self.assertGreater(sum("\u4e00" <= c <= "\u9fff" for c in choice.text), 10, choice.text)
        self.assertNotIn("\ufffd", choice.text)
        self.assertEqual(response.usage.prompt_tokens + response.usage.completion_tokens, response.usage.total_tokens)
        self.assertEqual(response.model, "text-davinci-003")

    def test_greedy_equals_the_command_line(self):
        response = self.client.completions.create(model="sales-demo", prompt=ENGLISH, max_tokens=40, temperature=0)
        cli = subprocess.run([str(GENERATE), "--temperature", "0", "--max-tokens", "40", "-q", ENGLISH],
                             capture_output=True, text=True, check=True)
        self.assertEqual(response.choices[0].text, cli.stdout.rstrip("\n"))
        self.assertEqual(response.usage.completion_tokens, 40)
        self.assertEqual(response.choices[0].finish_reason, "length")

    def test_stream(self):
        whole = self.client.completions.create(model="sales-demo", prompt=ENGLISH, max_tokens=30, temperature=0)
        chunks = list(self.client.completions.create(model="sales-demo", prompt=ENGLISH, max_tokens=30, temperature=0,
                                                     stream=True))
        self.assertGreater(len(chunks), 10)
        self.assertEqual("".join(c.choices[0].text for c in chunks), whole.choices[0].text)
        self.assertEqual(chunks[-1].choices[0].finish_reason, "length")

    def test_n_choices_and_several_prompts(self):
        response = self.client.completions.create(model="sales-demo", prompt=[ENGLISH, CHINESE], max_tokens=20,
                                                  temperature=1, n=3, seed=7)
        self.assertEqual(sorted(c.index for c in response.choices), list(range(6)))
        english = [c.text for c in response.choices if c.index < 3]
        self.assertEqual(len(set(english)), 3, english)
        again = self.client.completions.create(model="sales-demo", prompt=[ENGLISH, CHINESE], max_tokens=20,
                                               temperature=1, n=3, seed=7)
        self.assertEqual([c.text for c in again.choices], [c.text for c in response.choices])

    def test_top_logprobs(self):
        response = self.client.completions.create(model="sales-demo", prompt=ENGLISH, max_tokens=6, temperature=0, logprobs=3)
        logprobs = response.choices[0].logprobs
        self.assertEqual(len(logprobs.top_logprobs), 6)
        for token, value, top in zip(logprobs.tokens, logprobs.token_logprobs, logprobs.top_logprobs):
            self.assertLessEqual(len(top), 3)
            # greedy: the token drawn is the most likely one, with the same log-probability
            self.assertAlmostEqual(max(top.values()), value, places=6)
            self.assertAlmostEqual(top[token], value, places=6)
            self.assertLessEqual(sum(__import__("math").exp(v) for v in top.values()), 1.0 + 1e-6)

    def test_logprobs_and_echo(self):
        response = self.client.completions.create(model="sales-demo", prompt=ENGLISH, max_tokens=8, temperature=0,
                                                  logprobs=1, echo=True)
        choice = response.choices[0]
        self.assertTrue(choice.text.startswith(ENGLISH))
        logprobs = choice.logprobs
        self.assertEqual(len(logprobs.tokens), response.usage.prompt_tokens + 8)
        self.assertIsNone(logprobs.token_logprobs[0])
        self.assertTrue(all(v <= 0 for v in logprobs.token_logprobs[1:]))
        self.assertEqual("".join(logprobs.tokens), choice.text)

    def test_streamed_logprobs(self):
        # one chunk per token, each with its logprobs, adding up to the non-streamed ones (Chinese:
        # some tokens are parts of a character, whose text waits for the rest)
        fields = dict(model="sales-demo", prompt=CHINESE, max_tokens=30, temperature=0, logprobs=2, echo=True)
        whole = self.client.completions.create(**fields).choices[0]
        chunks = [c.choices[0] for c in self.client.completions.create(**fields, stream=True)]
        streamed = [c.logprobs for c in chunks if c.logprobs is not None]
        self.assertEqual(len(streamed), 1 + 30)  # the echoed prompt, then every token
        for name in ("tokens", "token_logprobs", "top_logprobs", "text_offset"):
            joined = [value for chunk in streamed for value in getattr(chunk, name)]
            expected = getattr(whole.logprobs, name)
            if name in ("token_logprobs", "top_logprobs"):
                self.assertEqual(len(joined), len(expected))
                for a, b in zip(joined, expected):
                    if isinstance(b, dict):
                        self.assertEqual(a.keys(), b.keys())
                        for key in b:
                            self.assertAlmostEqual(a[key], b[key], places=4)
                    elif b is None:
                        self.assertIsNone(a)
                    else:
                        self.assertAlmostEqual(a, b, places=4)
            else:
                self.assertEqual(joined, expected, name)
        self.assertEqual("".join(c.text for c in chunks), whole.text)

    def test_chat(self):
        response = self.client.chat.completions.create(model="sales-demo", messages=[{"role": "user", "content": "Hello"}],
                                                       max_tokens=10, temperature=0)
        self.assertEqual(response.choices[0].message.role, "assistant")
        self.assertIsInstance(response.choices[0].message.content, str)
        streamed = list(self.client.chat.completions.create(model="sales-demo", messages=[{"role": "user", "content": "Hello"}],
                                                            max_tokens=10, temperature=0, stream=True))
        self.assertEqual("".join(c.choices[0].delta.content or "" for c in streamed),
                         response.choices[0].message.content)

    def test_errors_are_the_clients_own_exceptions(self):
        with self.assertRaises(openai.BadRequestError) as raised:
            self.client.completions.create(model="sales-demo", prompt="hi", temperature=3)
        self.assertEqual(raised.exception.body["param"], "temperature")
        with self.assertRaises(openai.BadRequestError):
            self.client.completions.create(model="sales-demo", prompt="hi " * 600)
        with self.assertRaises(openai.NotFoundError) as raised:
            self.client.completions.create(model="gpt-4", prompt="hi")
        self.assertEqual(raised.exception.body["code"], "model_not_found")


class ServerOptionTests(unittest.TestCase):
    def test_api_key(self):
        server = Server("--api-key", "s3cret")
        try:
            with self.assertRaises(openai.AuthenticationError):
                server.client("wrong").completions.create(model="sales-demo", prompt="hi", max_tokens=1)
            response = server.client("s3cret").completions.create(model="sales-demo", prompt="hi", max_tokens=1)
            self.assertEqual(len(response.choices), 1)
        finally:
            self.assertEqual(server.stop(), 0)

    def test_queue_full_is_a_rate_limit(self):
        server = Server("--parallel", "1", "--max-queue", "0")
        try:
            client = server.client()
            # a streamed request holds the only place until its stream is read to the end
            busy = client.completions.create(model="sales-demo", prompt=ENGLISH, max_tokens=200, temperature=1,
                                             stream=True, extra_body={"ignore_eos": True})
            first = next(iter(busy))
            self.assertEqual(first.choices[0].index, 0)
            with self.assertRaises(openai.RateLimitError) as raised:
                client.completions.create(model="sales-demo", prompt="hi", max_tokens=1)
            self.assertEqual(raised.exception.response.headers.get("retry-after"), "1")
            self.assertEqual(list(busy)[-1].choices[0].finish_reason, "length")  # 200 tokens: past <|endoftext|>
            self.assertEqual(len(client.completions.create(model="sales-demo", prompt="hi", max_tokens=1).choices), 1)
        finally:
            self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main()
