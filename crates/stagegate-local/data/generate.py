#!/usr/bin/env python3
"""Regenerates create-only-properties.json: for every CloudFormation resource type,
the properties whose change replaces the resource (the registry schemas'
`createOnlyProperties`) and those whose change may (`conditionalCreateOnlyProperties`),
as cfn-lint ships the us-east-1 schemas. SAM's AWS::Serverless::* types have no
registry schema: the few below are mapped by hand to the create-only properties of the
resources SAM turns them into.

    pip install cfn-lint && python3 crates/stagegate-local/data/generate.py
"""
import json
import os

import cfnlint
from importlib.metadata import version as package_version

SCHEMAS = os.path.join(os.path.dirname(cfnlint.__file__), "data", "schemas")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "create-only-properties.json")

# SAM property -> the property of the generated resource it becomes; create-only there.
SERVERLESS = {
    # AWS::Lambda::Function: FunctionName, PackageType.
    "AWS::Serverless::Function": {"createOnly": ["FunctionName", "PackageType"]},
    # AWS::DynamoDB::Table: TableName; PrimaryKey becomes KeySchema (conditional).
    "AWS::Serverless::SimpleTable": {"createOnly": ["TableName"], "conditional": ["PrimaryKey"]},
    # AWS::StepFunctions::StateMachine: StateMachineName, StateMachineType.
    "AWS::Serverless::StateMachine": {"createOnly": ["Name", "Type"]},
    # AWS::Lambda::LayerVersion: every property (a layer version is immutable).
    "AWS::Serverless::LayerVersion": {
        "createOnly": [
            "ContentUri",
            "LayerName",
            "Description",
            "LicenseInfo",
            "CompatibleRuntimes",
            "CompatibleArchitectures",
        ]
    },
}


def main():
    index = json.load(open(os.path.join(SCHEMAS, "providers", "us-east-1.json")))
    out = {}
    for type_name, digest in sorted(index.items()):
        schema = json.load(open(os.path.join(SCHEMAS, "resources", digest + ".json")))
        top = lambda ps: sorted({p.split("/")[2] for p in ps if p.startswith("/properties/")})
        entry = {"createOnly": top(schema.get("createOnlyProperties", []))}
        conditional = top(schema.get("conditionalCreateOnlyProperties", []))
        if conditional:
            entry["conditional"] = conditional
        out[type_name] = entry
    out.update(SERVERLESS)
    doc = {
        "source": "cfn-lint %s, providers/us-east-1 (and SAM types by hand)"
        % package_version("cfn-lint"),
        "types": out,
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, separators=(",", ":"), sort_keys=True)
        f.write("\n")
    print("wrote %d types to %s" % (len(out), OUT))


if __name__ == "__main__":
    main()
