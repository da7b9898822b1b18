#!/usr/bin/env python3
"""Builds the retrieval benchmark from a real corpus (the Python standard library).

For every function or method with a docstring, the query is the docstring's
first sentence and the target is that function. The indexed copy of the corpus
has every docstring removed, so a search cannot match the query text verbatim.

Usage: make_docstring_corpus.py SRC_DIR OUT_DIR [--max-queries N] [--seed S]
Writes OUT_DIR/corpus/ (the stripped tree) and OUT_DIR/queries.jsonl with
{"query", "file_path", "symbol", "start_line", "end_line"} per line (lines in
the stripped file).
"""
import argparse
import ast
import json
import os
import random
import re
import sys


def first_sentence(doc):
    doc = doc.strip()
    para = doc.split("\n\n")[0]
    para = " ".join(line.strip() for line in para.splitlines())
    m = re.match(r"(.+?[.!?])(\s|$)", para)
    s = m.group(1) if m else para
    return s.strip()


def is_docstring(node):
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str))


def strip_docstrings(source):
    """Returns (stripped source, {qualname: first docstring sentence})."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    remove = []  # (first line, last line) 1-based, inclusive
    docs = {}

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                qual = prefix + child.name
                body = child.body
                if body and is_docstring(body[0]):
                    d = body[0]
                    if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        docs[qual] = first_sentence(d.value.value)
                    if len(body) > 1:  # keep a body: removing the only statement would break syntax
                        # Only whole-line docstrings can be cut cleanly.
                        if lines[d.lineno - 1][:d.col_offset].strip() == "" and \
                                lines[d.end_lineno - 1][d.end_col_offset:].strip() == "":
                            remove.append((d.lineno, d.end_lineno))
                        else:
                            docs.pop(qual, None)
                    else:
                        docs.pop(qual, None)
                visit(child, qual + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    drop = set()
    for a, b in remove:
        drop.update(range(a, b + 1))
    # Module docstring too.
    if tree.body and is_docstring(tree.body[0]):
        d = tree.body[0]
        drop.update(range(d.lineno, d.end_lineno + 1))
    out = "".join(l for i, l in enumerate(lines, 1) if i not in drop)
    return out, docs


def definitions(source):
    """{qualname: (start_line, end_line)} of functions in source (decorators included)."""
    tree = ast.parse(source)
    out = {}

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                qual = prefix + child.name
                start = min([child.lineno] + [d.lineno for d in child.decorator_list])
                out[qual] = (start, child.end_lineno)
                visit(child, qual + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--max-queries", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    corpus = os.path.join(args.out, "corpus")
    os.makedirs(corpus, exist_ok=True)
    queries = []
    skip_dirs = {"__pycache__", "test", "tests", "idlelib", "lib2to3", "site-packages", "dist-packages"}
    for dirpath, dirnames, filenames in os.walk(args.src):
        dirnames[:] = sorted(d for d in dirnames if d not in skip_dirs)
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, args.src)
            try:
                with open(path, encoding="utf-8") as f:
                    source = f.read()
                stripped, docs = strip_docstrings(source)
                defs = definitions(stripped)
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue
            dest = os.path.join(corpus, rel)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with open(dest, "w", encoding="utf-8") as f:
                f.write(stripped)
            for qual, sentence in docs.items():
                words = re.findall(r"[A-Za-z]+", sentence)
                if len(words) < 4 or ">>>" in sentence or qual not in defs:
                    continue
                start, end = defs[qual]
                queries.append({"query": sentence, "file_path": rel.replace(os.sep, "/"),
                                "symbol": qual, "start_line": start, "end_line": end})
    random.Random(args.seed).shuffle(queries)
    queries = queries[:args.max_queries]
    with open(os.path.join(args.out, "queries.jsonl"), "w", encoding="utf-8") as f:
        for q in queries:
            f.write(json.dumps(q) + "\n")
    print(f"{len(queries)} queries over {corpus}", file=sys.stderr)


if __name__ == "__main__":
    main()
