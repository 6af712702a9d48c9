# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Prometheus helpers for the `gcpause serve` tests: a strict parser of the text exposition
format 0.0.4 (what /metrics returns) and a real Prometheus server (Debian's /usr/bin/prometheus)
run on loopback with a throw-away configuration and storage.

The parser is deliberately strict: a line it cannot read, a sample before its family's # TYPE,
a family split in two, or the same series twice is an error, since Prometheus rejects (or
silently mangles) such scrapes. Values are kept as the text gcpause wrote, so that counts and
sums can be compared exactly (int() and Decimal), not through floating point.
"""

import json
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from decimal import Decimal
from pathlib import Path

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE_RE = re.compile(rf"^({_NAME})(?:\{{(.*)\}})? (\S+)(?: (-?\d+))?$")
_LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
_VALUE_RE = re.compile(r"^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$")


class FormatError(AssertionError):
    pass


def _parse_labels(text, line):
    """'a="x",b="y\\"z"' -> {"a": "x", "b": 'y"z'}, with the format's escapes undone."""
    labels = {}
    i = 0
    while i < len(text):
        m = _LABEL_NAME_RE.match(text, i)
        if not m or text[m.end():m.end() + 2] != '="':
            raise FormatError(f"bad label at {i} in {line!r}")
        name = m.group(0)
        i = m.end() + 2
        value = []
        while True:
            if i >= len(text):
                raise FormatError(f"unterminated label value in {line!r}")
            c = text[i]
            if c == "\\":
                nxt = text[i + 1:i + 2]
                if nxt not in ("\\", '"', "n"):
                    raise FormatError(f"bad escape \\{nxt} in {line!r}")
                value.append("\n" if nxt == "n" else nxt)
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise FormatError(f"raw newline in a label value: {line!r}")
            else:
                value.append(c)
                i += 1
        if name in labels:
            raise FormatError(f"label {name} twice in {line!r}")
        labels[name] = "".join(value)
        if i < len(text):
            if text[i] != ",":
                raise FormatError(f"expected ',' at {i} in {line!r}")
            i += 1
    return labels


class Sample:
    __slots__ = ("name", "labels", "value")

    def __init__(self, name, labels, value):
        self.name, self.labels, self.value = name, labels, value

    def int(self):
        v = Decimal(self.value)
        if v != v.to_integral_value():
            raise AssertionError(f"{self} is not an integer")
        return int(v)

    def dec(self):
        return Decimal(self.value)

    def __repr__(self):
        labels = ",".join(f'{k}="{v}"' for k, v in self.labels.items())
        return f"{self.name}{{{labels}}} {self.value}"


class Histogram:
    """One labelled histogram: cumulative buckets [(le as Decimal, le text, count)], sum, count."""

    def __init__(self, buckets, sum_, count):
        self.buckets, self.sum, self.count = buckets, sum_, count

    def check(self, what):
        les = [b[0] for b in self.buckets]
        assert les and les[-1] == Decimal("Infinity"), f"{what}: last bucket is not +Inf: {les}"
        assert les == sorted(les) and len(set(les)) == len(les), \
            f"{what}: bucket bounds not strictly increasing: {les}"
        counts = [b[2] for b in self.buckets]
        assert counts == sorted(counts), f"{what}: cumulative buckets decrease: {counts}"
        assert counts[-1] == self.count, \
            f"{what}: le=\"+Inf\" bucket {counts[-1]} != _count {self.count}"
        assert self.sum >= 0 and (self.count > 0 or self.sum == 0), \
            f"{what}: _sum {self.sum} with _count {self.count}"

    def cumulative(self, le_ns):
        """The cumulative count of the bucket whose bound is le_ns nanoseconds."""
        for le, _, c in self.buckets:
            if le != Decimal("Infinity") and le * 10**9 == le_ns:
                return c
        raise KeyError(le_ns)

    def bounds_ns(self):
        return [int(le * 10**9) for le, _, _ in self.buckets if le != Decimal("Infinity")]


class Scrape:
    """A parsed /metrics page."""

    def __init__(self, text):
        self.text = text
        self.samples = []
        self.types = {}
        self.helps = {}
        if not text.endswith("\n"):
            raise FormatError("the exposition does not end with a newline")
        seen = set()
        closed = set()      # families whose samples are over
        current = None
        for line in text.split("\n")[:-1]:
            if not line:
                raise FormatError("empty line in the exposition")
            if line.startswith("#"):
                parts = line.split(" ", 3)
                if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                    fam = parts[2]
                    if not re.fullmatch(_NAME, fam):
                        raise FormatError(f"bad family name in {line!r}")
                    if fam in closed:
                        raise FormatError(f"family {fam} declared again: {line!r}")
                    if parts[1] == "TYPE":
                        if len(parts) != 4 or parts[3] not in _TYPES:
                            raise FormatError(f"bad TYPE line {line!r}")
                        if fam in self.types:
                            raise FormatError(f"second TYPE for {fam}")
                        self.types[fam] = parts[3]
                    else:
                        if fam in self.helps:
                            raise FormatError(f"second HELP for {fam}")
                        self.helps[fam] = parts[3] if len(parts) == 4 else ""
                    if current is not None and current != fam:
                        closed.add(current)
                    current = fam
                continue
            m = _SAMPLE_RE.match(line)
            if not m:
                raise FormatError(f"unparsable sample line {line!r}")
            name, labels_text, value = m.group(1), m.group(2) or "", m.group(3)
            if not _VALUE_RE.match(value):
                raise FormatError(f"bad value in {line!r}")
            labels = _parse_labels(labels_text, line)
            fam = self.family_of(name)
            if fam is None:
                raise FormatError(f"sample without a # TYPE before it: {line!r}")
            if fam != current:
                raise FormatError(f"sample of {fam} outside its family's block: {line!r}")
            key = (name, tuple(sorted(labels.items())))
            if key in seen:
                raise FormatError(f"series twice in one scrape: {line!r}")
            seen.add(key)
            self.samples.append(Sample(name, labels, value))

    def family_of(self, name):
        if name in self.types:
            return name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and self.types.get(name[:-len(suffix)]) == "histogram":
                return name[:-len(suffix)]
        return None

    def find(self, name, **labels):
        """Samples of exactly this name whose labels include the given ones (None: absent)."""
        out = []
        for s in self.samples:
            if s.name != name:
                continue
            if all((s.labels.get(k) is None) if v is None else (s.labels.get(k) == str(v))
                   for k, v in labels.items()):
                out.append(s)
        return out

    def one(self, name, **labels):
        found = self.find(name, **labels)
        assert len(found) == 1, f"{name}{labels}: {len(found)} samples: {found[:6]}"
        return found[0]

    def int(self, name, **labels):
        return self.one(name, **labels).int()

    def dec(self, name, **labels):
        return self.one(name, **labels).dec()

    def histogram(self, name, **labels):
        """The histogram `name` whose labels (le aside) are exactly those of one series."""
        buckets = self.find(name + "_bucket", **labels)
        sums = self.find(name + "_sum", **labels)
        counts = self.find(name + "_count", **labels)
        assert len(sums) == 1 and len(counts) == 1, \
            f"{name}{labels}: {len(sums)} _sum and {len(counts)} _count samples"
        series = dict(sums[0].labels)
        assert counts[0].labels == series, (sums[0], counts[0])
        out = []
        for b in buckets:
            rest = {k: v for k, v in b.labels.items() if k != "le"}
            assert rest == series, f"bucket {b} does not belong to {series}"
            assert "le" in b.labels, b
            out.append((Decimal(b.labels["le"]), b.labels["le"], b.int()))
        return Histogram(out, sums[0].dec(), counts[0].int())

    def label_values(self, label, name=None):
        return {s.labels[label] for s in self.samples
                if label in s.labels and (name is None or s.name == name)}

    def with_label(self, label, value):
        return [s for s in self.samples if s.labels.get(label) == value]


def fetch(url, timeout=10):
    """(status, content type, body text) of a GET; HTTP errors are returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode(errors="replace")


def promtool_check(text):
    """`promtool check metrics` on an exposition: (exit code, its output)."""
    res = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                         text=True, timeout=30)
    return res.returncode, (res.stdout + res.stderr).strip()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    """A real Prometheus scraping `targets` every second, on loopback, storage under `workdir`.

    Its discovery manager hands static targets to the scrapers only after its first 5-second
    tick, so the first scrape comes 5-6 s after start: start it early.
    """

    def __init__(self, procs, workdir, targets, scrape_interval="1s"):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.data = self.dir / "data"
        self.log_path = self.dir / "prometheus.log"
        self.config = self.dir / "prometheus.yml"
        targets = ", ".join(f"'{t}'" for t in targets)
        self.config.write_text(
            "global:\n"
            f"  scrape_interval: {scrape_interval}\n"
            f"  scrape_timeout: {scrape_interval}\n"
            "  evaluation_interval: 1m\n"
            "scrape_configs:\n"
            "  - job_name: gcpause\n"
            "    honor_labels: true\n"
            "    static_configs:\n"
            f"      - targets: [{targets}]\n")
        self.procs = procs
        self.proc = None
        self.port = None

    def start(self, timeout=30):
        for attempt in range(3):
            self.port = free_port()
            shutil.rmtree(self.data, ignore_errors=True)
            with open(self.log_path, "a") as log:
                self.proc = self.procs.add(subprocess.Popen(
                    [PROMETHEUS, f"--config.file={self.config}",
                     f"--storage.tsdb.path={self.data}",
                     f"--web.listen-address=127.0.0.1:{self.port}",
                     "--storage.tsdb.retention.time=1h", "--log.level=warn"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    cwd=self.dir))
            self.url = f"http://127.0.0.1:{self.port}"
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    if fetch(self.url + "/-/ready", timeout=2)[0] == 200:
                        return self
                except OSError:
                    pass
                time.sleep(0.05)
            self.stop()
            if "address already in use" not in self.log() or attempt == 2:
                raise AssertionError(f"prometheus not ready within {timeout} s "
                                     f"(exit {self.proc.returncode}); log:\n"
                                     f"{self.log()[-3000:]}")
        raise AssertionError("unreachable")

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def api(self, path, **params):
        url = f"{self.url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        status, _, body = fetch(url)
        data = json.loads(body)
        assert status == 200 and data.get("status") == "success", \
            f"prometheus {path} {params}: HTTP {status}: {body[:500]}"
        return data["data"]

    def query(self, q):
        """An instant query's result list ([{"metric": {...}, "value": [ts, "v"]}] or a
        matrix for a range selector)."""
        return self.api("query", query=q)["result"]

    def stop(self, timeout=15):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.data, ignore_errors=True)


def wait_until(pred, timeout, what, interval=0.05):
    """Polls pred() until it returns a true value (returned); AssertionError on timeout.
    The last value pred returned (or exception it raised) is in the message."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = pred()
            if v:
                return v
            last = v
        except (AssertionError, OSError, KeyError, ValueError) as e:
            last = f"{type(e).__name__}: {e}"
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s; last: {str(last)[:2000]}")
        time.sleep(interval)

