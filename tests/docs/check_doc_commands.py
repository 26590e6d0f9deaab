#!/usr/bin/env python3
"""check_doc_commands.py --build BUILD --source SOURCE [FILE.md ...]

The docs check (ctest label cli): every command line quoted in README.md and docs/*.md (inline
code and code blocks) that runs one of our binaries or scripts must use only flags that binary
knows. Each binary's --help lists all its flags (docs/cli.md), so each quoted flag must appear
in the --help of the binary it is given to; `tests/vm/run-in-vm.sh ... -- CMD` checks both.
A binary that does not exist, or whose --help fails, fails the check too.
Exit 0 when every flag is known, 1 otherwise (each unknown flag named with FILE:LINE), 2 for a
bad command line.
"""
import os
import re
import shlex
import subprocess
import sys

# Our user-facing binaries (in BUILD/bin) and scripts (relative to the source tree). Not
# tests/fuzz/run.sh: it hands any further flag to libFuzzer, whose flags its --help does not list.
BINARIES = ["ublk-pool", "ublk-pool-null", "ublk-pool-mem", "ublk-pool-nbd", "ublk-pool-loop", "memcpy_vs_getdata", "cost_model",
            "pool_bench", "adapter_bench", "ublk-adopt-example", "soak"]
SCRIPTS = ["scripts/bench.sh", "scripts/build.sh", "scripts/hugepages.sh", "scripts/setup.sh",
           "scripts/test.sh", "tests/vm/run-in-vm.sh"]
ADMIN_COMMANDS = {"features", "list", "del", "stats", "tune"}
# Scripts that hand their flags to a binary: the flags are that binary's.
PASSES_FLAGS_TO = {"scripts/bench.sh": "memcpy_vs_getdata"}
SEPARATORS = {"&&", "||", ";", "|", "&"}


def usage_error(message):
    print(f"check_doc_commands: {message}", file=sys.stderr)
    sys.exit(2)


def quoted_commands(text):
    """(line number, command text) for each inline code span and each line of a code block."""
    found = []
    in_fence = False
    lines = text.split("\n")
    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            continue
        if in_fence or line.startswith("    ") or line.startswith("\t"):
            found.append((number, line.strip()))
    # Inline spans, which may wrap onto the next line (not across a blank line).
    without_fences = re.sub(r"```.*?```", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    for match in re.finditer(r"`([^`\n]+(?:\n[^`\n]+)*?)`", without_fences):
        number = without_fences.count("\n", 0, match.start()) + 1
        found.append((number, " ".join(match.group(1).split())))
    return found


def program_of(word):
    """Our binary or script a command word names, or None."""
    if word in BINARIES:
        return word
    base = os.path.basename(word)
    if "/" in word and base in BINARIES and re.search(r"(^|/)bin/[^/]+$", word):
        return base
    for script in SCRIPTS:
        if word == script or word.endswith("/" + script) or (word == os.path.basename(script) and
                                                              script.startswith("tests/vm/")):
            return script
    return None


def split_commands(words):
    command = []
    for word in words:
        if word in SEPARATORS:
            if command:
                yield command
            command = []
        else:
            command.append(word)
    if command:
        yield command


def flags_in(args):
    for arg in args:
        if re.fullmatch(r"--?[A-Za-z][A-Za-z0-9_-]*(=.*)?", arg):
            yield arg.split("=", 1)[0]


class Helps:
    def __init__(self, build, source):
        self.build = build
        self.source = source
        self.cache = {}

    def path(self, program):
        if program in BINARIES:
            return os.path.join(self.build, "bin", program)
        return os.path.join(self.source, program)

    def text(self, program, subcommand=None):
        key = (program, subcommand)
        if key not in self.cache:
            path = self.path(program)
            if not os.access(path, os.X_OK):
                self.cache[key] = None
            else:
                argv = [path] + ([subcommand] if subcommand else []) + ["--help"]
                run = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, timeout=60, text=True,
                                     env=dict(os.environ, CI=""))
                self.cache[key] = run.stdout if run.returncode == 0 else None
        return self.cache[key]


def knows(help_text, flag):
    """Whether --help defines the flag: it starts an option line, or follows another flag's column
    ("-h, --help", "[--x | --y]", two spaces). A mention in running text ("stdout with --json")
    does not count, nor does a longer flag that starts the same ("--json-report")."""
    lead = r"(?:^[ \t]*|[ \t]{2}|, |\[|\| )"
    return re.search(lead + re.escape(flag) + r"(?![A-Za-z0-9_-])", help_text, re.M) is not None


def check_command(words, helps, where, problems, checked):
    # Environment assignments and wrappers in front of the command.
    while words and (re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]) or words[0] in {"sudo", "exec", "time"}):
        words = words[1:]
    if not words:
        return
    program = program_of(words[0])
    if program is None:
        return
    args = words[1:]
    inner = None
    if "--" in args and program == "tests/vm/run-in-vm.sh":
        cut = args.index("--")
        args, inner = args[:cut], args[cut + 1:]
    program = PASSES_FLAGS_TO.get(program, program) if args else program
    subcommand = None
    if program == "ublk-pool" and args and args[0] in ADMIN_COMMANDS:
        subcommand, args = args[0], args[1:]
    help_text = helps.text(program, subcommand)
    shown = program + (" " + subcommand if subcommand else "")
    if help_text is None:
        problems.append(f"{where}: `{shown} --help` is missing or failed ({helps.path(program)})")
        return
    checked.add(shown)
    for flag in flags_in(args):
        if not knows(help_text, flag):
            problems.append(f"{where}: {shown} does not know {flag} (not in its --help)")
    if inner:
        check_command(inner, helps, where, problems, checked)


def main(argv):
    build = source = None
    files = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        if arg in ("--build", "--source"):
            if i + 1 >= len(argv):
                usage_error(f"{arg} needs a value")
            if arg == "--build":
                build = argv[i + 1]
            else:
                source = argv[i + 1]
            i += 2
            continue
        if arg.startswith("-"):
            usage_error(f"unknown option '{arg}' (see --help)")
        files.append(arg)
        i += 1
    if not build or not source:
        usage_error("--build and --source are needed (see --help)")
    if not files:
        docs = os.path.join(source, "docs")
        files = [os.path.join(source, "README.md")] + sorted(
            os.path.join(docs, f) for f in os.listdir(docs) if f.endswith(".md"))

    helps = Helps(build, source)
    problems = []
    checked = set()
    count = 0
    for path in files:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        shown_path = os.path.relpath(path, source)
        for number, command in quoted_commands(text):
            command = command.split(" #", 1)[0]
            try:
                words = shlex.split(command, comments=False)
            except ValueError:
                words = command.split()
            for part in split_commands(words):
                if program_of_first(part):
                    count += 1
                    check_command(part, helps, f"{shown_path}:{number}", problems, checked)
    for problem in problems:
        print(f"check_doc_commands: {problem}", file=sys.stderr)
    print(f"check_doc_commands: {count} quoted command lines of {len(files)} files checked against "
          f"the --help of {', '.join(sorted(checked)) or 'nothing'}: {len(problems)} problem(s)")
    return 1 if problems else 0


def program_of_first(words):
    while words and (re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]) or words[0] in {"sudo", "exec", "time"}):
        words = words[1:]
    return bool(words) and program_of(words[0]) is not None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
