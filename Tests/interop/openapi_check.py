"""docs/openapi.yaml for the Swift tests, with the pinned openapi-spec-validator and jsonschema.

    openapi_check.py validate SPEC           check the file against the OpenAPI 3.1 schema
    openapi_check.py routes SPEC             print [{path, method, operationId, statuses}] as JSON
    openapi_check.py responses SPEC FILE     check recorded answers [{operationId, status, body}]
                                             against the documented status and response schema
"""
import json
import sys

import jsonschema
import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

METHODS = ("get", "post", "put", "delete", "patch")


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def operations(spec):
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


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
            if "$ref" in response:
                response = spec["components"]["responses"][response["$ref"].split("/")[-1]]
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
