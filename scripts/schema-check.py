#!/usr/bin/python3
"""Validates YAML files against the JSON Schema of `cmkguard rules schema`.

usage: schema-check.py SCHEMA.json|- [--invalid] FILE...

Prints one line per file: "ok FILE" when it validates, or "FAIL FILE: WHERE: WHY".
With --invalid every file must NOT validate: each is printed with the reason the
schema gives ("rejected FILE: WHERE: WHY"), and a file that validates is the failure.
Exit 0 when every file went the expected way, 1 otherwise, 2 on bad usage.

YAML is read as YAML 1.2 reads it (what editors and libyaml users see): only
true/false are booleans ('on', 'yes' and 'no' are strings) and timestamps stay
strings, so `on:` and `expires: 2027-03-31T00:00:00Z` mean what cmkguard reads.
"""
import json
import re
import sys

import jsonschema
import yaml


class Yaml12Loader(yaml.SafeLoader):
    pass


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))


def where(err):
    path = "/".join(str(p) for p in err.absolute_path)
    return "/" + path if path else "(top)"


def kind(path, doc):
    """Which branch of the top-level oneOf the file means to be: 0 rule file,
    1 exemption file, 2 rule test."""
    if path.endswith((".test.yaml", ".test.yml")):
        return 2
    return 1 if isinstance(doc, dict) and "exemptions" in doc else 0


def reason(errors, branch):
    """The most specific error; for the top-level oneOf, the one of the branch the
    file means to be (otherwise the answer is "valid under none of them")."""
    for err in errors:
        if err.validator == "oneOf" and not err.absolute_path:
            mine = [e for e in err.context if e.schema_path and e.schema_path[0] == branch]
            if mine:
                errors = mine
            break
    best = jsonschema.exceptions.best_match(errors)
    return "%s: %s" % (where(best), best.message)


def check(validator, path):
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.load(f, Loader=Yaml12Loader)
    except (OSError, yaml.YAMLError) as e:
        return "cannot read as YAML: %s" % str(e).replace("\n", " ")
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    return reason(errors, kind(path, doc))


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    src = argv[1]
    schema = json.load(sys.stdin if src == "-" else open(src, encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    files = argv[2:]
    invalid = False
    if files and files[0] == "--invalid":
        invalid, files = True, files[1:]
    bad = 0
    for path in files:
        why = check(validator, path)
        if invalid and why:
            print("rejected %s: %s" % (path, why))
        elif invalid:
            print("FAIL %s: validates, but has a mistake the schema should catch" % path)
            bad += 1
        elif why:
            print("FAIL %s: %s" % (path, why))
            bad += 1
        else:
            print("ok %s" % path)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
