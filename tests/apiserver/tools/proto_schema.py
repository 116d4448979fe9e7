#!/usr/bin/env python3
"""Writes src/proto/schema.txt: the protobuf wire schema of the built-in kinds this server serves.

The field numbers and wire types come from the prost code of the `k8s-pb` crate (the version in
Cargo.lock), the JSON field names from `k8s-openapi`'s serde code (same Kubernetes release). Only
messages reachable from ROOTS are written. Run it after bumping either crate:

    python3 tests/apiserver/tools/proto_schema.py ~/.cargo/registry/src/*/k8s-pb-X ~/.cargo/registry/src/*/k8s-openapi-Y/src/v1_35

One line per message: `package.Message tag:jsonName:type ...` where type is s (string), i32, i64,
b (bool), d (double), y (bytes), m=package.Message; a leading `*` marks a repeated field and
`{}` a map from string (`{}s`, `{}y`, `{}m=...`). A JSON name `-` marks an embedded message whose
fields are inlined in its parent's JSON (Go's `json:",inline"`).
"""
import os
import re
import sys

ROOTS = [
    "api.core.v1." + k for k in ["Namespace", "Service", "Secret", "ConfigMap", "Event", "Pod", "ServiceAccount"]
] + [
    "api.policy.v1.PodDisruptionBudget",
    "api.rbac.v1.Role", "api.rbac.v1.RoleBinding", "api.rbac.v1.ClusterRole", "api.rbac.v1.ClusterRoleBinding",
    "api.apps.v1.Deployment",
    "api.events.v1.Event",
    "api.discovery.v1.EndpointSlice",
    "api.coordination.v1.Lease",
    "api.authentication.v1.TokenRequest",
    "api.authorization.v1.SelfSubjectAccessReview",
    "apimachinery.pkg.apis.meta.v1.Status",
    "apimachinery.pkg.apis.meta.v1.WatchEvent",
    "apimachinery.pkg.apis.meta.v1.DeleteOptions",
]
# Lists of every root kind.
ROOTS += [r + "List" for r in ROOTS if r.split(".")[-1][0].isupper() and r.startswith("api.") and "Review" not in r and "TokenRequest" not in r]
# Written as JSON scalars by the codec itself: their inner fields are not needed.
OPAQUE = {"Time", "MicroTime", "Duration", "IntOrString", "Quantity", "RawExtension", "FieldsV1"}

FIELD = re.compile(r'#\[prost\((?P<attr>[^\]]*?)tag = "(?P<tag>\d+)"[^\]]*\)\]\s*pub (?:r#)?(?P<name>\w+):\s*(?P<ty>[^;]*?),\n(?=\s*(?:///|#\[|$))')
STRUCT = re.compile(r"pub struct (\w+) \{(.*?)\n\}", re.S)


def parse_pb(root):
    messages = {}
    for dirpath, _, files in os.walk(os.path.join(root, "src")):
        if "mod.rs" not in files:
            continue
        module = os.path.relpath(dirpath, os.path.join(root, "src")).replace(os.sep, ".")
        text = open(os.path.join(dirpath, "mod.rs")).read()
        for name, body in STRUCT.findall(text):
            fields = [m.groupdict() for m in FIELD.finditer(body + "\n")]
            messages[f"{module}.{name}"] = [(module, dict(f, ty=re.sub(r"\s+", "", f["ty"]))) for f in fields]
    return messages


def resolve(module, rust_type):
    path = rust_type
    for wrapper in ("::core::option::Option<", "::prost::alloc::vec::Vec<", "::prost::alloc::boxed::Box<"):
        path = path.replace(wrapper, "")
    path = path.rstrip(",>")
    parts = path.split("::")
    here = module.split(".")
    relative = len(parts) == 1 or parts[0] == "super"
    while parts and parts[0] == "super":
        parts.pop(0)
        here.pop()
    return ".".join(here + parts) if relative else ".".join(parts)


def json_names(openapi, module, message):
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", message).lower()
    path = os.path.join(openapi, module.replace(".pkg.apis.", "/pkg/apis/").replace(".", "/"), snake + ".rs")
    if not os.path.exists(path):
        return {}
    return {key: json for json, key in re.findall(r'"([^"]+)" => Field::Key_(\w+),', open(path).read())}


def all_json_names(openapi):
    names = {}
    for dirpath, _, files in os.walk(openapi):
        for f in files:
            for json, key in re.findall(r'"([^"]+)" => Field::Key_(\w+),', open(os.path.join(dirpath, f)).read()):
                names.setdefault(key.replace("_", ""), json)
    return names


def json_name(snake, own, everywhere):
    """The field's JSON name; None when the field is inlined (`json:",inline"` in Go)."""
    flat = snake.replace("_", "")
    for key, json in own.items():
        if key.replace("_", "") in (flat, flat + ""):
            return json
    if own:
        return None
    return everywhere.get(flat, camel(snake))


def camel(snake):
    head, *rest = snake.split("_")
    return head + "".join(w.capitalize() for w in rest)


def field_type(module, f):
    attr, ty = f["attr"], f["ty"]
    if attr.startswith("btree_map"):
        value = re.search(r'btree_map = "string, (\w+)"', attr).group(1)
        if value == "message":
            return "{}m=" + resolve(module, re.search(r"String,(.+?),?>$", ty).group(1))
        return "{}" + {"string": "s", "bytes": "y"}[value]
    kind = attr.split(",")[0].split("=")[0].strip()
    repeated = "*" if "repeated" in attr else ""
    if kind == "message":
        return repeated + "m=" + resolve(module, ty.strip())
    return repeated + {"string": "s", "int32": "i32", "int64": "i64", "bool": "b", "double": "d", "bytes": "y"}[kind]


def main(pb_root, openapi):
    messages = parse_pb(pb_root)
    everywhere = all_json_names(openapi)
    out, todo, seen = [], list(ROOTS), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name not in messages:
            sys.exit(f"unknown message {name}")
        module, short = name.rsplit(".", 1)
        names = json_names(openapi, module, short)
        cells = []
        for fmodule, f in messages[name]:
            ty = field_type(fmodule, f)
            if "m=" in ty:
                target = ty.split("m=")[1]
                if target.rsplit(".", 1)[1] not in OPAQUE:
                    todo.append(target)
            json = json_name(f["name"], names, everywhere)
            if json is None and "m=" not in ty:
                sys.exit(f"{name}.{f['name']}: no JSON name")
            cells.append(f'{f["tag"]}:{json or "-"}:{ty}')
        out.append(" ".join([name] + cells))
    target = os.path.join(os.path.dirname(__file__), "..", "src", "proto", "schema.txt")
    with open(target, "w") as fh:
        fh.write("\n".join(sorted(out)) + "\n")
    print(f"{len(out)} messages -> {target}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
