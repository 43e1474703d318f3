"""docs/openapi.yaml for the Swift tests, with the pinned openapi-spec-validator and jsonschema.

    openapi_check.py validate SPEC           check the file against the OpenAPI 3.1 schema
    openapi_check.py routes SPEC             print [{path, method, operationId, statuses}] as JSON
    openapi_check.py responses SPEC FILE     check recorded answers [{operationId, status, body,
                                             contentType, headers}] against the documented status,
                                             media type, header fields and response schema
    openapi_check.py rules SPEC              check that every operation declares what any route may
                                             answer (docs/API.md, Errors)
"""
import json
import sys

import jsonschema
import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

METHODS = ("get", "head", "post", "put", "delete", "patch")
# Statuses any route may answer (a target with a control character once decoded, credentials, the
# gateway's own faults, the store, the disk), and those of any route that takes a body (unreadable
# or badly framed, too large, a transfer coding the server cannot undo).
EVERY_ROUTE = ("400", "401", "500", "503", "507")
EVERY_BODY = ("400", "413", "501")
# Header fields of HTTP itself, which the spec need not declare per response.
FRAMING = {"content-type", "content-length", "date", "connection", "keep-alive", "transfer-encoding",
           "server", "www-authenticate", "allow"}


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def operations(spec):
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def resolve(spec, item):
    while "$ref" in item:
        section, name = item["$ref"].split("/")[-2:]
        item = {**spec["components"][section][name], **{k: v for k, v in item.items() if k != "$ref"}}
    return item


def media_matches(declared, actual):
    declared, actual = declared.lower(), actual.split(";")[0].strip().lower()
    return declared in ("*/*", actual) or (declared.endswith("/*") and actual.startswith(declared[:-1]))


def rule_problems(spec):
    problems = []
    for path, method, op in operations(spec):
        wanted = EVERY_ROUTE + (EVERY_BODY if "requestBody" in op else ())
        for status in wanted:
            if status not in op["responses"]:
                problems.append(f'{op["operationId"]} ({method.upper()} {path}) does not declare {status}')
    return problems


def answer_problems(spec, a, response):
    problems = []
    name = f'{a["operationId"]} {a["status"]}'
    declared = {k.lower(): resolve(spec, v) for k, v in response.get("headers", {}).items()}
    sent = {k.lower() for k, _ in a.get("headers", [])}
    for header in sorted(sent - FRAMING - set(declared)):
        problems.append(f"{name}: header {header} is sent but not declared")
    for header, item in declared.items():
        if item.get("required") and header not in sent:
            problems.append(f"{name}: declared header {header} is not sent")
    content = response.get("content", {})
    if a.get("contentType") and a.get("length", 0) > 0 and not any(media_matches(t, a["contentType"]) for t in content):
        problems.append(f'{name}: Content-Type {a["contentType"]} is not among {sorted(content)}')
    return problems


def main():
    command, spec_path = sys.argv[1], sys.argv[2]
    if command == "validate":
        document, _ = read_from_filename(spec_path)
        validate(document)
        print("valid")
        return
    spec = load(spec_path)
    if command == "routes":
        print(json.dumps([{"path": p, "method": m.upper(), "operationId": op["operationId"],
                           "statuses": sorted(int(s) for s in op["responses"])} for p, m, op in operations(spec)]))
        return
    if command == "rules":
        problems = rule_problems(spec)
        print("\n".join(problems))
        sys.exit(1 if problems else 0)
    if command == "responses":
        by_id = {op["operationId"]: op for _, _, op in operations(spec)}
        with open(sys.argv[3], encoding="utf-8") as f:
            answers = json.load(f)
        problems = []
        for a in answers:
            op = by_id[a["operationId"]]
            response = op["responses"].get(str(a["status"]))
            if response is None:
                problems.append(f'{a["operationId"]}: status {a["status"]} is not documented')
                continue
            response = resolve(spec, response)
            problems += answer_problems(spec, a, response)
            content = response.get("content", {})
            json_types = [t for t in content if t.endswith("json")]
            if not json_types or a.get("body") is None:
                continue
            schema = dict(content[json_types[0]]["schema"])
            schema["components"] = spec["components"]
            try:
                jsonschema.Draft202012Validator(schema).validate(a["body"])
            except jsonschema.ValidationError as e:
                problems.append(f'{a["operationId"]} {a["status"]}: {e.message} at {list(e.absolute_path)}')
        print("\n".join(problems))
        sys.exit(1 if problems else 0)


main()
