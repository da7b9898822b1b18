#!/usr/bin/env python3
"""Keeps the docs in step with the software, mechanically (ctest: docs.consistency).

Usage: check_docs.py path/to/signal-hub SOURCE_ROOT

Checks README.md and docs/**/*.md of SOURCE_ROOT against the binary:

1. commands: every `signal-hub ...` command line in a fenced code block names a real subcommand path
   and only options the `--help` of that subcommand (or of one of its parents) lists. Nothing is
   executed but `--help`. A line that shows an error on purpose is skipped: its comment mentions an
   error or a typo, or the block's next line is the `signal-hub: error: ...` it prints.
2. configuration: every key of the tables of docs/configuration.md (first column `key`) is known to the
   configuration loader (a YAML file setting it gives no "unknown key" error), and every SIGNAL_HUB_*
   variable the docs mention is accepted: an override variable (SIGNAL_HUB_<SECTION>__<KEY>) gives no
   "does not name a configuration key" error, any other name occurs in the source tree. Names listed
   in a `<!-- docs-consistency: invalid NAME ... -->` comment are examples of errors: they must be
   rejected.
3. check items: the items `check production --help` lists (under "Items:") are exactly the ones of the
   item tables (first column `item`) of docs/cli.md and the hardening checklist, and every item
   `check production --json` reports is among them.
4. links: every relative link between docs points to an existing file, and an anchor to a heading
   of the target document.

Subcommands and options are read from `--help`, never listed here: new ones need no change to this file.
"""

import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

SH = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else sys.exit(__doc__)
ROOT = Path(sys.argv[2] if len(sys.argv) > 2 else Path(__file__).resolve().parents[2]).resolve()
ENV = {k: v for k, v in os.environ.items() if not k.startswith("SIGNAL_HUB_")}
ENV["NO_COLOR"] = "1"
WORK = Path(tempfile.mkdtemp(prefix="signal-hub-docs."))
problems = []


def problem(where, what):
    problems.append(f"{where}: {what}")


def run(args, env=None, cwd=None):
    p = subprocess.run([SH, *args], cwd=cwd or WORK, env=env or ENV, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def doc_files():
    files = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
    return [f for f in files if f.is_file()]


def rel(path):
    return str(path.relative_to(ROOT))


# ---- --help parsing ---------------------------------------------------------------------------------

class Help:
    def __init__(self, text):
        self.text = text
        self.options = {}          # name -> takes a value
        self.subcommands = set()
        self.positionals = []
        self.items = []            # "Items:" section (check production)
        usage = re.search(r"^Usage: .*$", text, re.M)
        self.requires_subcommand = bool(usage and re.search(r"\bSUBCOMMANDS?\b", usage.group(0))
                                         and "[SUBCOMMAND" not in usage.group(0))
        section = None
        for line in text.splitlines():
            header = re.match(r"^([A-Za-z][A-Za-z ]*):\s*$", line)
            if header:
                section = header.group(1).lower()
                continue
            if not line.startswith("  "):
                if line.strip():
                    section = None if not line.startswith(" ") else section
                continue
            body = line[2:]
            if body.startswith(" "):
                continue  # a wrapped description
            if section == "options":
                # "  -k,--limit INT   desc": a type after one space; a flag's description follows 2+ spaces
                m = re.match(r"(\S+)(?: (\S.*?))?(?:\s{2,}|$)", body)
                names, rest = m.group(1), m.group(2) or ""
                takes_value = bool(re.match(r"[A-Z]", rest)) and not re.match(r"(REQUIRED|Excludes|Needs)\b", rest)
                for name in names.split(","):
                    if name.startswith("-"):
                        self.options[name] = takes_value
            elif section == "subcommands":
                self.subcommands.add(body.split()[0])
            elif section == "positionals":
                self.positionals.append(body.split()[0])
            elif section == "items":
                self.items.append(body.split()[0])


_helps = {}


def help_of(path):
    path = tuple(path)
    if path not in _helps:
        code, out, err = run([*path, "--help"])
        if code != 0:
            raise SystemExit(f"`signal-hub {' '.join(path)} --help` failed (exit {code}): {err}")
        _helps[path] = Help(out + err)
    return _helps[path]


# ---- 1. command lines in code blocks ----------------------------------------------------------------

SEPARATORS = {"|", "||", "&&", ";", "$(", "(", "`", "then", "do", "else", "time", "exec", "sudo", "nohup", "xargs",
              "env", "!", "{"}
ENDS = {"&&", "||", ";", ")", "`", "&", "}"}
ERROR_HINT = re.compile(r"\b(error|errors|typo|misspel\w*|wrong|invalid|unknown|did you mean)\b", re.I)


def code_blocks(path):
    """Yields (first line number, info string, [lines]) of each fenced code block."""
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)(`{3,}|~{3,})\s*([^`\s]*)", lines[i])
        if not m:
            i += 1
            continue
        fence, info, start, body = m.group(2), m.group(3).lower(), i + 1, []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1
        yield start + 1, info, body


def logical_lines(body):
    """Joins backslash continuations; yields (index of first line, text)."""
    out, buf, first = [], "", None
    for n, line in enumerate(body):
        if first is None:
            first = n
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        out.append((first, buf + line))
        buf, first = "", None
    if buf:
        out.append((first, buf))
    return out


def tokens_of(line):
    line = re.sub(r"^\s*[$>#]\s+(?=\S)", "", line) if re.match(r"^\s*\$\s", line) else line
    line = line.replace("$(", " $( ").replace("`", " ` ")
    try:
        return shlex.split(line, comments=True)
    except ValueError:
        return line.split("#", 1)[0].split()


def is_signal_hub(token):
    # build/src/cli/signal-hub, /usr/bin/signal-hub; not a volume spec such as data:/var/lib/signal-hub
    return token == "signal-hub" or (token.endswith("/signal-hub") and ":" not in token)


def check_command(where, toks, start):
    path, seen_positional, i = [], False, start + 1
    while i < len(toks):
        raw = toks[i]
        if raw in ENDS or re.match(r"^\d?[<>]", raw) or raw.startswith("&>"):
            break
        if raw == "|":
            if i + 1 < len(toks) and toks[i + 1].lstrip("[(").startswith("-"):
                i += 1  # an alternative in a synopsis: (--a X | --b Y)
                continue
            break
        t = raw.strip("[](){}")
        i += 1
        if not t or t in ("...", "|"):
            continue
        if t == "--":
            break
        if re.match(r"^--?[A-Za-z]", t):
            found = None
            for name in t.split("=", 1)[0].split("|"):  # "-q|--quiet" in a synopsis: each alternative
                found = None
                for depth in range(len(path), -1, -1):
                    opts = help_of(path[:depth]).options
                    if name in opts:
                        found = opts[name]
                        break
                if found is None:
                    listed = sorted(help_of(path).options)
                    problem(where, f"`signal-hub {' '.join(path)}` has no option {name} (its --help lists: "
                                   f"{', '.join(listed)})")
            if found and "=" not in t and not raw.endswith(("]", ")")):
                i += 1  # its value
            continue
        if re.fullmatch(r"[A-Z][A-Z0-9_-]*", t) or t.startswith(("<", "$", "{")):
            seen_positional = True  # a placeholder (COMMAND, <command>, $CMD): nothing to resolve after it
            continue
        h = help_of(path)
        if not seen_positional and t in h.subcommands:
            path.append(t)
            continue
        if not seen_positional and "|" in t and all(x in h.subcommands for x in t.split("|")):
            return path  # "export|init-db|import" in a heading: several subcommands, nothing to follow
        if h.requires_subcommand and not seen_positional:
            problem(where, f"`signal-hub {' '.join(path)}` has no subcommand '{t}' (it has: "
                           f"{', '.join(sorted(h.subcommands))})")
            return None
        seen_positional = True
    return path


def check_commands():
    root = help_of([])
    count = skipped = inline = 0
    for f in doc_files():
        for first, info, body in code_blocks(f):
            if info in ("json", "yaml", "yml", "toml", "ini", "dockerfile"):
                continue
            for n, line in logical_lines(body):
                toks = tokens_of(line)
                for k, tok in enumerate(toks):
                    if not is_signal_hub(tok):
                        continue
                    nxt = toks[k + 1] if k + 1 < len(toks) else ""
                    at_start = k == 0 or toks[k - 1] in SEPARATORS or re.match(r"^[A-Za-z_]\w*=", toks[k - 1])
                    if not at_start and not (nxt in root.subcommands or re.match(r"^--?[A-Za-z]", nxt)):
                        continue  # an argument (e.g. the server name of `claude mcp add`), not a command
                    following = next((x for x in body[n + 1:] if x.strip()), "")
                    comment = line.split(" #", 1)[1] if " #" in line else ""
                    if ERROR_HINT.search(comment) or re.match(r"^\s*(signal-hub: )?error", following):
                        skipped += 1
                        continue
                    count += 1
                    check_command(f"{rel(f)}:{first + n}", toks, k)
        # `signal-hub ...` in running text (inline code, also across a line break)
        text = re.sub(r"^\s*(`{3,}|~{3,}).*?^\s*\1\s*$", lambda b: "\n" * b.group(0).count("\n"),
                      f.read_text(encoding="utf-8"), flags=re.S | re.M)
        for m in re.finditer(r"(?<!`)`(signal-hub [^`]+)`(?!`)", text):
            toks = tokens_of(m.group(1).replace("\n", " "))
            if len(toks) > 1 and (toks[1] in root.subcommands or re.match(r"^--?[A-Za-z]", toks[1])):
                inline += 1
                check_command(f"{rel(f)}:{text.count(chr(10), 0, m.start()) + 1} (inline)", toks, 0)
    if count < 20:
        problem("docs", f"only {count} signal-hub command lines found in code blocks: is the extraction broken?")
    print(f"commands: {count} command lines in code blocks and {inline} in running text checked against --help "
          f"({skipped} error examples skipped)")


# ---- 2. configuration keys and environment variables ------------------------------------------------

UNKNOWN_ENV = re.compile(r"does not name a configuration key|is a section, not a key|override variables are "
                         r"upper case|is not supported by this version")


def table_column(path, header_first_cell):
    """First-column `code` cells of the Markdown tables whose header's first cell is header_first_cell."""
    cells, in_table = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            in_table = False
            continue
        first = line.strip("|").split("|")[0].strip()
        if not in_table:
            in_table = first.lower() == header_first_cell
            continue
        m = re.fullmatch(r"`([^`]+)`", first)
        if m:
            cells.append(m.group(1))
    return cells


def key_known(key):
    """(exit code, stderr) of loading a YAML file that sets `key`."""
    parts = key.split(".")
    yaml = "".join("  " * d + p + ":\n" for d, p in enumerate(parts[:-1])) + "  " * (len(parts) - 1) + parts[-1] + ": null\n"
    cfg = WORK / ("key-" + key + ".yaml")
    cfg.write_text(yaml, encoding="utf-8")
    code, out, err = run(["--config", str(cfg), "check", "production", "--json"])
    return code, err


def rejected_variables(names):
    """The names among `names` the configuration loader rejects as naming no key, with its message.
    All are set at once (value "1"; a value error is no rejection of the name); the loader names the
    first unknown one, which is dropped before the next run."""
    rejected, pending = {}, list(names)
    while pending:
        env = dict(ENV)
        env.update({n: "1" for n in pending})
        code, out, err = run(["check", "production", "--json"], env=env)
        m = re.search(r"environment variable (SIGNAL_HUB_\w+): (.*)", err)
        if not m or not UNKNOWN_ENV.search(m.group(2)) or m.group(1) not in pending:
            break
        rejected[m.group(1)] = m.group(0)
        pending.remove(m.group(1))
    return rejected


def override_variable(key):
    return "SIGNAL_HUB_" + key.upper().replace(".", "__")


def check_configuration():
    conf = ROOT / "docs" / "configuration.md"
    keys = [k for k in table_column(conf, "key") if re.fullmatch(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)+", k)]
    if len(keys) < 20:
        problem(rel(conf), f"only {len(keys)} keys found in its tables: is the extraction broken?")
    # The detection must be live: a key that does not exist is reported as unknown, one that exists is not.
    _, err = key_known("server.no_such_key_for_docs_check")
    if "unknown key" not in err:
        problem("configuration", f"a made-up key is not reported as unknown ({err.strip()!r}); update this test")
    if keys and "unknown key" in key_known(keys[0])[1]:
        problem(rel(conf), f"documented key '{keys[0]}' is not known to the configuration loader")
    # Every key through its override variable (the loader checks all names before any value).
    by_variable = {override_variable(k): k for k in keys}
    for name, message in rejected_variables(sorted(by_variable)).items():
        problem(rel(conf), f"documented key '{by_variable[name]}' is not known to the configuration loader: {message}")

    mentioned, invalid = {}, set()
    for f in doc_files():
        text = f.read_text(encoding="utf-8")
        for m in re.finditer(r"<!--\s*docs-consistency:\s*invalid\s+([^>]*?)-->", text):
            invalid.update(m.group(1).split())
        for m in re.finditer(r"\bSIGNAL_HUB_[A-Z0-9_]*[A-Z0-9]\b", text):
            mentioned.setdefault(m.group(0), f"{rel(f)}:{text.count(chr(10), 0, m.start()) + 1}")
    overrides = sorted(n for n in mentioned if "__" in n)
    for name, message in rejected_variables([n for n in overrides if n not in invalid]).items():
        problem(mentioned[name], f"{name} is not accepted: {message}")
    for name in sorted(invalid):  # each alone: it must be rejected
        if name not in rejected_variables([name]):
            problem(mentioned.get(name, "docs"), f"{name} is documented as an error but signal-hub accepts it")
    sources = []
    for sub in ("src", "scripts", "tests", "cmake", "deploy", "bench", "fuzz"):
        d = ROOT / sub
        if d.is_dir():
            sources += [p for p in d.rglob("*") if p.is_file() and p.suffix not in (".md",) and p.stat().st_size < 4 << 20]
    sources.append(ROOT / "CMakeLists.txt")
    corpus = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in sources if p.is_file())
    others = sorted(n for n in mentioned if "__" not in n and n not in invalid)
    for name in others:
        if not re.search(r"\b" + re.escape(name) + r"\b", corpus):
            problem(mentioned[name], f"{name} is mentioned but nothing in the source tree reads it")
    for name in sorted(invalid - set(mentioned)):
        problem("docs", f"{name} is listed as an invalid example but not mentioned")
    print(f"configuration: {len(keys)} keys, {len(overrides)} override variables ({len(invalid)} error examples), "
          f"{len(others)} other variables")


# ---- 3. check production items ----------------------------------------------------------------------

def check_items():
    h = help_of(["check", "production"])
    listed = h.items
    if len(listed) < 5:
        problem("check production --help", f"lists {len(listed)} items under 'Items:'")
    code, out, err = run(["check", "production", "--json"])
    import json
    try:
        reported = [c["name"] for c in json.loads(out)["checks"]]
    except (ValueError, KeyError) as e:
        reported = []
        problem("check production --json", f"unreadable output ({e}): {out[:200]} {err[:200]}")
    for name in reported:
        if name not in listed:
            problem("check production", f"reports item '{name}' that its --help does not list")
    for doc in (ROOT / "docs" / "cli.md", ROOT / "docs" / "production" / "security" / "hardening-checklist.md"):
        documented = table_column(doc, "item")
        for name in listed:
            if name not in documented:
                problem(rel(doc), f"check item '{name}' (check production --help) is not in its item table")
        for name in documented:
            if name not in listed:
                problem(rel(doc), f"documents check item '{name}', which check production does not have")
    print(f"check items: {len(listed)} listed by --help, {len(set(reported))} reported by a default run")


# ---- 4. relative links ------------------------------------------------------------------------------

def slugs(path):
    out, seen = set(), {}
    in_code = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if re.match(r"^\s*(`{3,}|~{3,})", line):
            in_code = not in_code
            continue
        m = None if in_code else re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        h = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1)).lower()
        h = re.sub(r"<[^>]+>", "", h)
        s = "".join(c for c in h if c.isalnum() or c in " -_").replace(" ", "-")
        n = seen.get(s, 0)
        seen[s] = n + 1
        out.add(s if n == 0 else f"{s}-{n}")
    for m in re.finditer(r'<a\s+(?:name|id)="([^"]+)"', path.read_text(encoding="utf-8")):
        out.add(m.group(1))
    return out


def check_links():
    count = 0
    for f in doc_files():
        text = f.read_text(encoding="utf-8")
        text = re.sub(r"^\s*(`{3,}|~{3,}).*?^\s*\1\s*$", "", text, flags=re.S | re.M)  # code blocks
        text = re.sub(r"`[^`\n]*`", "", text)  # inline code
        targets = re.findall(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)
        targets += re.findall(r"^\s*\[[^\]]+\]:\s*(\S+)", text, re.M)
        for target in targets:
            if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
                continue  # http:, https:, mailto:
            count += 1
            file_part, _, anchor = target.partition("#")
            dest = (f.parent / file_part).resolve() if file_part else f
            if not dest.exists():
                problem(rel(f), f"link to {target}: {file_part} does not exist")
                continue
            if anchor and dest.suffix == ".md" and anchor not in slugs(dest):
                problem(rel(f), f"link to {target}: {rel(dest) if ROOT in dest.parents else dest} has no "
                                f"heading #{anchor}")
    print(f"links: {count} relative links checked")


def main():
    if not os.access(SH, os.X_OK):
        sys.exit(f"not an executable: {SH}")
    try:
        check_commands()
        check_configuration()
        check_items()
        check_links()
    finally:
        subprocess.run(["rm", "-rf", str(WORK)])
    if problems:
        print(f"\n{len(problems)} problem(s) where the docs and the software disagree:", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        sys.exit(1)
    print("docs are consistent with the software")


if __name__ == "__main__":
    main()
