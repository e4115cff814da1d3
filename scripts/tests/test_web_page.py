"""The pitch page of `generate serve`, end to end in a real headless browser (Debian's chromium and
chromium-driver, driven by Selenium) against the real server and the demo model: a greedy pitch
written on the page against `generate pitch`'s; a customer list with a bad row; review decisions
that survive a reload and reach the feedback file; the downloads; the API key's sign-in.

Screenshots of each state go to $WEB_SCREENSHOTS (default .build-python/screenshots) for a person
to look at."""
import csv
import io
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.support.ui import WebDriverWait

from test_openai_client import Server as APIServer

ROOT = Path(__file__).resolve().parents[2]
GENERATE = Path(os.environ.get("GENERATE", ROOT / ".build" / "release" / "generate"))
MODEL = ROOT / "Models" / "sales-demo"
SHOTS = Path(os.environ.get("WEB_SCREENSHOTS", ROOT / ".build-python" / "screenshots"))
MAX_TOKENS = "60"  # short pitches keep the test quick; the same for the page and the CLI

OLIVIA = {"name": "Olivia Brown", "age": "34", "gender": "female", "job": "nurse", "interests": "yoga, travel",
          "behavior": "viewed high-end cameras", "product": "AuroraShot X2 mirrorless camera", "industry": "e-commerce"}

# ten data rows, one of them (line 6) with too few fields
CUSTOMERS = """id,name,age,gender,job,interests,behavior,product,industry
c01,Olivia Brown,34,female,nurse,"yoga, travel",viewed high-end cameras,AuroraShot X2 mirrorless camera,e-commerce
c02,James Miller,45,male,accountant,investing,compared savings accounts,SmartSave high-yield savings account,finance
c03,Sophia Chen,29,female,graphic designer,"painting, coffee",read reviews of standing desks,FlexDesk standing desk,e-commerce
c04,David Wilson,52,male,small business owner,"cooking, music",watched a cooking class video,BrewMaster coffee machine,e-commerce
c05,Emma Davis,38,female
c06,Liam Johnson,41,male,engineer,cycling,looked at e-bikes,VoltRide e-bike,e-commerce
c07,王芳,32,女,教师,"阅读, 旅行",浏览了护肤品,水润保湿面霜,电商
c08,Noah Garcia,27,male,student,gaming,watched laptop reviews,ZenBook Pro laptop,e-commerce
c09,Ava Martinez,36,female,designer,"running, yoga",bought running shoes,StrideMax running shoes,e-commerce
c10,Lucas Brown,48,male,manager,golf,searched for golf clubs,ProSwing golf clubs,e-commerce
"""


class Server(APIServer):
    """generate serve of the demo model with a fresh workspace; `url` is the page's."""

    def __init__(self, *arguments):
        self.workspace = Path(tempfile.mkdtemp(prefix="pitch-workspace-"))
        super().__init__("--model", str(MODEL), "--workspace", str(self.workspace), *arguments)
        self.url = self.base_url.removesuffix("v1")

    def stop(self):
        super().stop()
        self.process.stderr.close()
        shutil.rmtree(self.workspace, ignore_errors=True)


def browser(downloads):
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1800",
                     "--lang=en-US"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    return driver


def script_errors(driver):
    """The page's JavaScript errors so far (a refused request logs too, but is not one)."""
    return [entry["message"] for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE" and "Failed to load resource" not in entry["message"]]


def cli_pitch(profile, *extra):
    flags = [item for key, value in profile.items() for item in (f"--{key}", value)]
    result = subprocess.run([str(GENERATE), "pitch", "--model", str(MODEL), *flags, "--temperature", "0",
                             "--max-tokens", MAX_TOKENS, "-q", *extra], capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise AssertionError(f"generate pitch failed: {result.stderr}")
    return result.stdout.strip()


class PitchPageTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        SHOTS.mkdir(parents=True, exist_ok=True)
        cls.downloads = Path(tempfile.mkdtemp(prefix="pitch-downloads-"))
        cls.server = Server()
        cls.driver = browser(cls.downloads)
        # the review list is redrawn as decisions land: an element found a moment before can be
        # gone when it is read, and the condition is simply tried again
        cls.wait = WebDriverWait(cls.driver, 180, ignored_exceptions=(StaleElementReferenceException,))

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()
        cls.server.stop()
        shutil.rmtree(cls.downloads, ignore_errors=True)

    def tearDown(self):
        self.assertEqual(script_errors(self.driver), [])

    def shot(self, name):
        self.driver.save_screenshot(str(SHOTS / f"{name}.png"))

    def by_id(self, element_id):
        return self.driver.find_element(By.ID, element_id)

    def open_page(self):
        self.driver.get(self.server.url)
        self.wait.until(lambda d: not self.by_id("app").get_attribute("hidden"))

    def fill(self, profile, **settings):
        for field in ["name", "age", "job", "interests", "behavior", "product", "industry"]:
            box = self.by_id(field)
            box.clear()
            box.send_keys(profile.get(field, ""))
        self.driver.execute_script("document.getElementById('gender').value = arguments[0]", profile.get("gender", ""))
        for field, value in {"temperature": "0", "max-tokens": MAX_TOKENS, **settings}.items():
            box = self.by_id(field)
            box.clear()
            box.send_keys(value)

    def write_pitch(self):
        self.by_id("write").click()
        # the button comes back when the pitch is kept
        self.wait.until(lambda d: self.by_id("write").is_enabled() and self.by_id("checks").text.strip())

    def results(self):
        return self.driver.find_elements(By.CSS_SELECTOR, "#results tbody tr")

    def test_1_greedy_pitch_matches_the_cli(self):
        self.open_page()
        self.shot("1-empty")
        # every file the page loaded came from the server itself
        sources = self.driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        self.assertTrue(sources)
        for source in sources:
            self.assertTrue(source.startswith(self.server.url), source)
        # labels are tied to their inputs
        for field in ["name", "age", "gender", "job", "interests", "behavior", "product", "industry", "language",
                      "temperature", "max-tokens", "variants", "seed"]:
            self.assertEqual(len(self.driver.find_elements(By.CSS_SELECTOR, f"label[for='{field}']")), 1, field)

        self.fill(OLIVIA)
        self.write_pitch()
        self.shot("2-one-pitch")
        page_pitch = self.by_id("pitch").text.strip()
        self.assertEqual(page_pitch, cli_pitch(OLIVIA))
        checks = self.by_id("checks").find_elements(By.CSS_SELECTOR, "li")
        self.assertEqual([c.get_attribute("data-check") for c in checks], ["name", "product", "language", "ending"])
        # what the checks say is what the checks are: the pitch names Olivia and the product
        passed = {c.get_attribute("data-check") for c in checks if "pass" in c.get_attribute("class")}
        self.assertEqual("name" in passed, "Olivia" in page_pitch)
        self.assertEqual("product" in passed, OLIVIA["product"] in page_pitch)
        # kept for review, under an id of the page's own
        rows = self.results()
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0].get_attribute("data-id"), "form-1")
        self.assertEqual(rows[0].get_attribute("data-variant"), "1")

    def test_2_chinese_pitch_and_missing_product(self):
        self.open_page()
        zh = {"name": "王芳", "age": "32", "gender": "female", "job": "教师", "interests": "阅读、旅行",
              "behavior": "浏览了护肤品", "product": "水润保湿面霜"}
        self.fill(zh)
        self.write_pitch()
        self.shot("3-chinese-pitch")
        text = self.by_id("pitch").text.strip()
        self.assertEqual(text, cli_pitch(zh))
        self.assertRegex(text, r"[\u4e00-\u9fff]")
        # a missing product is said on the form, next to the field, and nothing is written
        self.fill({"name": "Olivia Brown"})
        count = len(self.results())
        self.by_id("write").click()
        self.wait.until(lambda d: self.by_id("form-error").text)
        self.assertIn("product", self.by_id("form-error").text)
        self.assertEqual(self.by_id("product").get_attribute("aria-invalid"), "true")
        self.assertEqual(len(self.results()), count)

    def test_3_list_review_reload_download(self):
        self.open_page()
        before = len(self.results())
        for field, value in {"temperature": "0", "max-tokens": MAX_TOKENS}.items():
            self.by_id(field).clear()
            self.by_id(field).send_keys(value)
        path = self.downloads / "customers.csv"
        path.write_text(CUSTOMERS, encoding="utf-8")
        self.by_id("customers").send_keys(str(path))
        self.wait.until(lambda d: "done in" in self.by_id("progress-text").text)
        self.shot("4-list-done")
        progress = self.by_id("progress")
        self.assertEqual(progress.get_attribute("value"), progress.get_attribute("max"))
        self.assertIn("9/9 customers", self.by_id("progress-text").text)
        rejected = self.by_id("rejected").find_elements(By.CSS_SELECTOR, "tbody tr")
        self.assertEqual(len(rejected), 1)
        cells = [cell.text for cell in rejected[0].find_elements(By.TAG_NAME, "td")]
        self.assertEqual(cells[0], "6")  # the file's line 6
        self.assertIn("4 fields", cells[2])
        self.wait.until(lambda d: len(self.results()) == before + 9)
        listed = {row.get_attribute("data-id") for row in self.results()[before:]}
        self.assertEqual(listed, {f"c{n:02d}" for n in range(1, 11)} - {"c05"})

        # the list's greedy pitch of c01 is the page's and the CLI's for the same profile
        c01 = self.driver.find_element(By.CSS_SELECTOR, "#results tr[data-id='c01'] td.text").text
        self.assertTrue(c01.startswith(cli_pitch(OLIVIA)))

        # accept, reject with a reason, edit: three pitches
        def row(customer):
            return self.driver.find_element(By.CSS_SELECTOR, f"#results tr[data-id='{customer}'][data-variant='1']")
        row("c02").find_element(By.CLASS_NAME, "accept").click()
        self.wait.until(lambda d: row("c02").find_element(By.CLASS_NAME, "decision").text == "accepted")
        row("c03").find_element(By.CLASS_NAME, "reject").click()
        reason = row("c03").find_element(By.CLASS_NAME, "reason")
        reason.send_keys("too pushy", Keys.ENTER)  # from the keyboard
        self.wait.until(lambda d: row("c03").find_element(By.CLASS_NAME, "decision").text == "rejected: too pushy")
        row("c04").find_element(By.CLASS_NAME, "edit").click()
        editor = row("c04").find_element(By.CLASS_NAME, "edit-text")
        editor.clear()
        row("c04").find_element(By.CLASS_NAME, "save").click()  # empty: said in the row, nothing saved
        self.assertIn("Write the new text first", row("c04").find_element(By.CSS_SELECTOR, ".editor .error").text)
        editor.send_keys(Keys.ESCAPE)  # closes the editor; the keyboard stays on the row
        self.assertEqual(self.driver.switch_to.active_element, row("c04").find_element(By.CLASS_NAME, "edit"))
        row("c04").find_element(By.CLASS_NAME, "edit").click()
        editor = row("c04").find_element(By.CLASS_NAME, "edit-text")
        editor.clear()
        editor.send_keys("Hi David, the BrewMaster coffee machine makes café coffee at home.")
        row("c04").find_element(By.CLASS_NAME, "save").click()
        self.wait.until(lambda d: row("c04").find_element(By.CLASS_NAME, "decision").text == "edited")
        self.shot("5-reviewed")

        # a reload keeps every decision: they are on the server, in the feedback file
        self.open_page()
        self.wait.until(lambda d: len(self.results()) == before + 9)
        self.assertEqual(row("c02").get_attribute("class"), "accept")
        self.assertEqual(row("c03").find_element(By.CLASS_NAME, "decision").text, "rejected: too pushy")
        self.assertIn("café coffee at home", row("c04").find_element(By.CSS_SELECTOR, "td.text").text)
        self.shot("6-after-reload")
        feedback = [json.loads(line) for line in (self.server.workspace / "feedback.jsonl").read_text().splitlines()]
        self.assertEqual([(f["id"], f["decision"]) for f in feedback], [("c02", "accept"), ("c03", "reject"), ("c04", "edit")])
        self.assertEqual(feedback[1]["reason"], "too pushy")
        self.assertEqual(feedback[2]["edited"], "Hi David, the BrewMaster coffee machine makes café coffee at home.")
        # the same decisions through `generate review --export-dataset`, which reads that file
        dataset = self.downloads / "cli-dataset.jsonl"
        subprocess.run([str(GENERATE), "review", "--export-dataset", str(dataset), str(self.server.workspace / "feedback.jsonl")],
                       check=True, capture_output=True)
        self.assertEqual(len(dataset.read_text().splitlines()), 2)  # accepted and edited

        # downloads: the pitches table as the workspace holds it, and the feedback file
        self.by_id("download-pitches").click()
        self.by_id("download-feedback").click()
        self.by_id("download-dataset").click()
        downloaded = self.downloads / "pitches.csv"
        deadline = time.time() + 30
        while time.time() < deadline and not all((self.downloads / name).exists()
                                                 for name in ["pitches.csv", "feedback.jsonl", "dataset.jsonl"]):
            time.sleep(0.2)
        self.assertEqual((self.downloads / "dataset.jsonl").read_bytes(), dataset.read_bytes())
        self.assertEqual(downloaded.read_bytes(), (self.server.workspace / "pitches.csv").read_bytes())
        rows = list(csv.DictReader(io.StringIO(downloaded.read_text(encoding="utf-8"))))
        self.assertEqual(len(rows), before + 9)
        self.assertEqual((self.downloads / "feedback.jsonl").read_bytes(), (self.server.workspace / "feedback.jsonl").read_bytes())
        # `generate review` reads the downloaded table: the three decided pitches are not asked again
        review = subprocess.run([str(GENERATE), "review", str(downloaded), "--feedback", str(self.downloads / "feedback.jsonl")],
                                input="q\n", capture_output=True, text=True, timeout=60)
        self.assertIn(f"/{before + 9 - 3} ", review.stdout)


def call(url, body=None, content_type="application/json"):
    """(status, parsed JSON) of a request to the page's API."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type} if data is not None else {})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


class PageAPITests(unittest.TestCase):
    """What the page's API does with bad requests and uploads: a clear error naming the field or
    file, never a crash; a list with a prompt too long fails that customer alone; stop."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.api = cls.server.url + "pitch/v1/"

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_bad_requests(self):
        olivia = {"fields": OLIVIA, "temperature": 0, "max_tokens": 8}
        cases = [
            ("pitch", {**olivia, "temperature": "hot"}, 400, "temperature"),
            ("pitch", {**olivia, "variants": 17}, 400, "variants"),
            ("pitch", {**olivia, "seed": -1}, 400, "seed"),
            ("pitch", {**olivia, "language": "fr"}, 400, "language"),
            ("pitch", {"fields": {"name": "Olivia"}}, 400, "product"),
            ("pitch", b"{not json", 400, None),
            ("feedback", {"id": "nobody", "variant": 1, "decision": "accept"}, 404, "id"),
            ("feedback", {"id": "form-1", "variant": 1, "decision": "maybe"}, 400, "decision"),
            ("feedback", {"id": "form-1", "variant": 1, "decision": "edit"}, 400, "edited"),
            ("lists?name=list.csv", b"name,product\n\xff\xfe,thing\n", 400, "customers"),
            ("lists?name=list.csv", b"", 400, "customers"),
            ("lists?name=list.csv&temperature=-1", b"name,product\nA,B\n", 400, "temperature"),
            ("lists?name=big.csv", b"x" * (4 << 20 | 1), 413, "customers"),
            ("lists?name=hot.csv&temperature=3", b"name,product\nA,B\n", 400, "temperature"),
            ("lists?name=header.csv", b"id,name,product\n", 400, "customers"),
            ("lists?name=crm.csv", b"id,customer,item\n1,Ann,Lamp\n", 400, "customers"),
            ("lists?name=semi.csv", b"name;product\nAnn;Lamp\n", 400, "customers"),
        ]
        for path, body, status, param in cases:
            with self.subTest(path=path, body=body[:60] if isinstance(body, bytes) else body):
                got, answer = call(self.api + path, body, "application/json" if path in ("pitch", "feedback") else "text/csv")
                self.assertEqual(got, status, answer)
                self.assertTrue(answer["error"]["message"])
                self.assertEqual(answer["error"]["param"], param)
        message = lambda path, body: call(self.api + path, body, "text/csv")[1]["error"]["message"]
        self.assertIn("list.csv: line 2: not valid UTF-8", message("lists?name=list.csv", b"name,product\n\xff,x\n"))
        self.assertIn("big.csv is larger than the 4 MB", message("lists?name=big.csv", b"x" * (4 << 20 | 1)))
        self.assertEqual(message("lists?name=header.csv", b"id,name,product\n"), "header.csv: no customers (only a header row?)")
        self.assertEqual(message("lists?name=crm.csv", b"id,customer,item\n1,Ann,Lamp\n"),
                         "crm.csv: no name or product column (the columns: customer, id, item).")
        self.assertIn("separated by semicolons", message("lists?name=semi.csv", b"name;product\nAnn;Lamp\n"))
        for name in ["secret", "..%2F..%2Fetc%2Fpasswd", "pitches.csv%00"]:
            self.assertEqual(call(self.api + "files/" + name)[0], 404, name)
        self.assertEqual(call(self.server.url + "pitch/v1/lists/99")[0], 404)
        # the server is still there
        self.assertEqual(call(self.api + "config")[0], 200)
        self.assertIsNone(self.server.process.poll())

    def test_lists_without_ids_do_not_share_them(self):
        # two CRM exports without an id column: line 2 of each is another customer
        for name, customer in [("north.csv", "Ava Green"), ("south.csv", "Liam Hall")]:
            status, run = call(self.api + f"lists?name={name}&temperature=0&max_tokens=8",
                               f"name,product\n{customer},FlexDesk standing desk\n".encode(), "text/csv")
            self.assertEqual((status, run["total"], run["skipped"]), (200, 1, 0), run)
            while run["running"]:
                time.sleep(0.2)
                run = call(self.api + "lists/" + run["id"])[1]
            self.assertEqual(run["pitches"], 1)
        rows = {row["id"]: row["prompt"] for row in call(self.api + "pitches")[1]["rows"]}
        self.assertIn("Ava Green", rows["north-2"])
        self.assertIn("Liam Hall", rows["south-2"])

    def test_long_prompt_one_list_at_a_time_and_stop(self):
        before = call(self.api + "pitches")[1]["count"]  # other tests' pitches in this workspace
        rows = ["id,name,product,behavior", "long,Ann Lee,Desk lamp," + "browsed lamps " * 400]
        rows += [f"p{n:02d},Customer {n},Product {n}," for n in range(30)]
        status, run = call(self.api + "lists?name=many.csv&max_tokens=150&temperature=0.7", "\n".join(rows).encode(), "text/csv")
        self.assertEqual(status, 200, run)
        self.assertEqual((run["total"], run["running"]), (31, True))
        # one list at a time
        status, answer = call(self.api + "lists?name=again.csv", b"name,product\nA,B\n", "text/csv")
        self.assertEqual((status, answer["error"]["param"]), (409, "customers"))
        self.assertIn("many.csv", answer["error"]["message"])
        # the customer whose prompt is too long fails alone, with its line
        deadline = time.time() + 120
        while time.time() < deadline:
            run = call(self.api + "lists/" + run["id"])[1]
            if run["rejected"] and run["done"] >= 3:
                break
            time.sleep(0.3)
        self.assertEqual([(r["line"], r["id"]) for r in run["rejected"]], [(2, "long")])
        self.assertIn("context", run["rejected"][0]["reason"])
        status, run = call(self.api + "lists/" + run["id"] + "/stop", b"")
        self.assertEqual(status, 200)
        deadline = time.time() + 60
        while run["running"] and time.time() < deadline:
            time.sleep(0.2)
            run = call(self.api + "lists/" + run["id"])[1]
        self.assertFalse(run["running"])
        self.assertTrue(run["stopped"])
        self.assertLess(run["done"], 31)
        # only whole rows were written: the table reads back with every customer done
        table = list(csv.DictReader(io.StringIO((self.server.workspace / "pitches.csv").read_text(encoding="utf-8"))))
        self.assertEqual(len(table), before + run["pitches"])
        self.assertEqual(call(self.api + "pitches")[1]["count"], before + run["pitches"])


class WorkspaceFlagTests(unittest.TestCase):
    def test_unusable_workspace_is_refused_at_start(self):
        with tempfile.NamedTemporaryFile() as file:
            result = subprocess.run([str(GENERATE), "serve", "--port", "0", "--workspace", file.name],
                                    capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 64, result.stderr)
        self.assertIn(f"--workspace {file.name}: is a file, not a directory", result.stderr)


class APIKeyTests(unittest.TestCase):
    def test_sign_in(self):
        server = Server("--api-key", "s3cret")
        downloads = Path(tempfile.mkdtemp(prefix="pitch-downloads-"))
        driver = browser(downloads)
        try:
            # the page's API is behind the key like /v1
            with self.assertRaises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(server.url + "pitch/v1/pitches")
            self.assertEqual(refused.exception.code, 401)
            driver.get(server.url)
            wait = WebDriverWait(driver, 60, ignored_exceptions=(StaleElementReferenceException,))
            wait.until(lambda d: not d.find_element(By.ID, "login-section").get_attribute("hidden"))
            self.assertTrue(driver.find_element(By.ID, "app").get_attribute("hidden"))
            driver.find_element(By.ID, "api-key").send_keys("wrong", Keys.ENTER)
            wait.until(lambda d: "not this server's API key" in d.find_element(By.ID, "login-error").text)
            driver.save_screenshot(str(SHOTS / "7-sign-in-refused.png"))
            key = driver.find_element(By.ID, "api-key")
            key.clear()
            key.send_keys("s3cret", Keys.ENTER)
            wait.until(lambda d: not d.find_element(By.ID, "app").get_attribute("hidden"))
            self.assertIn("sales-demo", driver.find_element(By.ID, "model-line").text)
            # signing out asks for the key again
            driver.find_element(By.ID, "logout").click()
            self.assertTrue(driver.find_element(By.ID, "app").get_attribute("hidden"))
            self.assertFalse(driver.find_element(By.ID, "login-section").get_attribute("hidden"))
        finally:
            driver.quit()
            server.stop()
            shutil.rmtree(downloads, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
