#!/usr/bin/python3
# Validates each line of an OCSF export against a JSON Schema; prints the first errors.
#   ocsf-validate.py SCHEMA.json < EXPORT.jsonl
import json, sys
import jsonschema

schema = json.load(open(sys.argv[1]))
cls = jsonschema.validators.validator_for(schema)
cls.check_schema(schema)
v = cls(schema)
bad = 0
for n, line in enumerate(sys.stdin, 1):
    for e in v.iter_errors(json.loads(line)):
        bad += 1
        if bad <= 5:
            print("line %d: %s: %s" % (n, "/".join(map(str, e.absolute_path)), e.message))
sys.exit(1 if bad else 0)
