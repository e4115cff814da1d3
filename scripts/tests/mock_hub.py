#!/usr/bin/env python3
"""A stand-in for the Hugging Face Hub on 127.0.0.1, for tests that must never use the internet.

    python3 scripts/tests/mock_hub.py --repo openai-community/gpt2=Models/sales-demo [--repo ...]

prints `http://127.0.0.1:PORT` on its first line, then serves until killed. Standard library only.
Each repository is a folder, at one commit (the SHA-1 of its files) that `main` points to. The
endpoints are those `huggingface_hub` and `generate` use, with the hub's headers:

- GET /api/models/REPO/revision/REV   {"id", "sha", "siblings": [{"rfilename"}]}
- GET /api/models/REPO/tree/REV       [{"type": "file", "path", "size", "oid", "lfs"?}]
- HEAD/GET /REPO/resolve/REV/FILE     X-Repo-Commit, ETag; a large (LFS) file answers 302 to
                                      /lfs/SHA256 on a second port (storage is another origin, as
                                      the hub's CDN), with X-Linked-Etag (its SHA-256) and X-Linked-Size
- GET /lfs/SHA256                     the content, with Range (206)

Errors as the hub sends them (404 with X-Error-Code RepoNotFound, RevisionNotFound or
EntryNotFound; 401 with GatedRepo). Faults on demand, set by POST /_faults with a JSON object
(each applies to LFS downloads until changed): {"drop_after": N} closes the connection after N
bytes of the next LFS download (once), {"corrupt": true} flips a byte of every LFS download,
{"status": 500} answers every request so, {"trickle": BYTES_PER_SECOND} sends LFS content slowly,
{"token": "T"} makes every repository gated: 401 without `Authorization: Bearer T`.
GET /_stats gives {"lfs_bytes": bytes of LFS content sent, "requests": [[method, path, range]]}.
"""
import argparse
import hashlib
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LFS_SUFFIXES = (".safetensors", ".bin", ".gguf")


class Repo:
    def __init__(self, folder):
        self.files = {}
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    self.files[name] = f.read()
        digest = hashlib.sha1()
        for name, content in self.files.items():
            digest.update(name.encode() + b"\0" + hashlib.sha1(content).digest())
        self.commit = digest.hexdigest()

    @staticmethod
    def is_lfs(name):
        return name.endswith(LFS_SUFFIXES)

    @staticmethod
    def git_blob_id(content):
        return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


class State:
    def __init__(self, repos):
        self.repos = repos
        self.by_sha256 = {hashlib.sha256(c).hexdigest(): c for r in repos.values() for n, c in r.files.items() if Repo.is_lfs(n)}
        self.faults = {}
        self.storage_port = 0
        self.lfs_bytes = 0
        self.requests = []
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: State = None

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.handle_request(head=True)

    def do_GET(self):
        self.handle_request(head=False)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        if self.path == "/_faults":
            with self.state.lock:
                self.state.faults = json.loads(body or b"{}")
            return self.reply(200, b"{}")
        self.reply(404, b"")

    def reply(self, status, body, headers=None, head=False):
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def error(self, status, code, head=False):
        self.reply(status, json.dumps({"error": code}).encode(), {"X-Error-Code": code, "Content-Type": "application/json"}, head)

    def handle_request(self, head):
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        with self.state.lock:
            self.state.requests.append([self.command, path, self.headers.get("Range")])
            faults = dict(self.state.faults)
        if path == "/_stats":
            with self.state.lock:
                stats = {"lfs_bytes": self.state.lfs_bytes, "requests": self.state.requests}
            return self.reply(200, json.dumps(stats).encode(), {"Content-Type": "application/json"})
        if "status" in faults:
            return self.error(faults["status"], "Injected")
        if path.startswith("/lfs/"):
            return self.send_lfs(path[len("/lfs/"):], faults, head)
        token = faults.get("token")
        if token and self.headers.get("Authorization") != f"Bearer {token}":
            return self.error(401, "GatedRepo", head)
        if path.startswith("/api/models/"):
            return self.api(path[len("/api/models/"):])
        if "/resolve/" in path:
            repo_id, rest = path[1:].split("/resolve/", 1)
            revision, _, name = rest.partition("/")
            return self.resolve(repo_id, revision, name, head)
        self.error(404, "RepoNotFound", head)

    def find(self, repo_id, revision):
        repo = self.state.repos.get(repo_id)
        if repo is None:
            return None, "RepoNotFound"
        if revision not in ("main", repo.commit):
            return None, "RevisionNotFound"
        return repo, None

    def api(self, rest):
        for kind in ("/revision/", "/tree/"):
            if kind in rest:
                repo_id, revision = rest.split(kind, 1)
                break
        else:
            return self.error(404, "RepoNotFound")
        repo, code = self.find(repo_id, revision)
        if repo is None:
            return self.error(404, code)
        if kind == "/revision/":
            info = {"id": repo_id, "modelId": repo_id, "sha": repo.commit, "private": False,
                    "siblings": [{"rfilename": name} for name in repo.files]}
        else:
            info = []
            for name, content in repo.files.items():
                entry = {"type": "file", "path": name, "size": len(content), "oid": Repo.git_blob_id(content)}
                if Repo.is_lfs(name):
                    entry["lfs"] = {"oid": hashlib.sha256(content).hexdigest(), "size": len(content), "pointerSize": 134}
                info.append(entry)
        self.reply(200, json.dumps(info).encode(), {"Content-Type": "application/json"})

    def resolve(self, repo_id, revision, name, head):
        repo, code = self.find(repo_id, revision)
        if repo is None:
            return self.error(404, code, head)
        content = repo.files.get(name)
        if content is None:
            return self.error(404, "EntryNotFound", head)
        headers = {"X-Repo-Commit": repo.commit, "ETag": f'"{Repo.git_blob_id(content)}"'}
        if Repo.is_lfs(name):
            sha256 = hashlib.sha256(content).hexdigest()
            headers.update({"X-Linked-Etag": f'"{sha256}"', "X-Linked-Size": str(len(content)),
                            "Location": f"http://127.0.0.1:{self.state.storage_port}/lfs/{sha256}"})
            return self.reply(302, b"", headers, head)
        self.reply(200, content, headers, head)

    def send_lfs(self, sha256, faults, head):
        content = self.state.by_sha256.get(sha256)
        if content is None:
            return self.error(404, "EntryNotFound", head)
        if faults.get("corrupt"):
            content = bytes([content[0] ^ 0xFF]) + content[1:]
        start = 0
        status = 200
        headers = {"ETag": f'"{sha256}"', "Accept-Ranges": "bytes"}
        requested = self.headers.get("Range")
        if requested and requested.startswith("bytes=") and requested.endswith("-"):
            start = int(requested[len("bytes="):-1])
            if start >= len(content):
                return self.reply(416, b"", {"Content-Range": f"bytes */{len(content)}"}, head)
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(content) - 1}/{len(content)}"
        body = content[start:]
        headers["Content-Length"] = str(len(body))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if head:
            return
        drop_after = None
        with self.state.lock:
            if "drop_after" in self.state.faults:
                drop_after = self.state.faults.pop("drop_after")
        if drop_after is not None:
            body = body[:drop_after]
        trickle = faults.get("trickle")
        chunk = 64 * 1024 if not trickle else max(1, trickle // 10)
        for offset in range(0, len(body), chunk):
            piece = body[offset:offset + chunk]
            try:
                self.wfile.write(piece)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return
            with self.state.lock:
                self.state.lfs_bytes += len(piece)
            if trickle:
                time.sleep(0.1)
        if drop_after is not None:
            self.close_connection = True
            self.connection.shutdown(2)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", action="append", default=[], metavar="ID=FOLDER")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--faults", default="{}", help="faults from the start, as POST /_faults takes them")
    args = parser.parse_args()
    repos = {}
    for item in args.repo:
        repo_id, folder = item.split("=", 1)
        repos[repo_id] = Repo(folder)
    Handler.state = State(repos)
    Handler.state.faults = json.loads(args.faults)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    storage = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Handler.state.storage_port = storage.server_address[1]
    for s in (server, storage):
        s.daemon_threads = True
    threading.Thread(target=storage.serve_forever, daemon=True).start()
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
