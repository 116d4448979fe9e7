//! Unit tests of the schema validator.
use super::*;
use serde_json::json;

/// Validates and returns `(field, reason)` pairs.
fn failures(schema: &Value, object: Value) -> Vec<(String, &'static str)> {
    validate(schema, &object).into_iter().map(|cause| (cause.field, cause.reason)).collect()
}

/// Wraps a property schema as the root schema of a resource with one `spec.x` field.
fn spec_x(property: Value) -> Value {
    json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {"x": property}}}})
}

/// Validates `{spec: {x: value}}` against `spec_x(property)` and returns the messages.
fn messages(property: Value, value: Value) -> Vec<String> {
    validate(&spec_x(property), &json!({"spec": {"x": value}})).into_iter().map(|cause| cause.message).collect()
}

/// A Gateway-API-like schema: listeners with required name/port/protocol.
fn gateway_schema() -> Value {
    json!({"type": "object", "properties": {"spec": {"type": "object", "required": ["listeners"], "properties": {
        "gatewayClassName": {"type": "string", "minLength": 1},
        "listeners": {"type": "array", "minItems": 1, "maxItems": 64,
            "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "required": ["name", "port", "protocol"], "properties": {
                "name": {"type": "string", "maxLength": 253, "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                "port": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 65535},
                "protocol": {"type": "string", "enum": ["HTTP", "HTTPS", "TCP"]},
                "hostname": {"type": "string", "pattern": "^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"},
                "tls": {"type": "object", "properties": {"mode": {"type": "string", "default": "Terminate"}}}}}}}}}})
}

#[test]
fn wrong_type_reports_type_invalid_with_kubernetes_message() {
    let causes = validate(&spec_x(json!({"type": "integer"})), &json!({"spec": {"x": "abc"}}));
    assert_eq!(
        causes,
        vec![Cause {
            field: "spec.x".into(),
            reason: "FieldValueTypeInvalid",
            message: "Invalid value: \"string\": spec.x in body must be of type integer: \"string\"".into()
        }]
    );
    assert_eq!(failures(&spec_x(json!({"type": "boolean"})), json!({"spec": {"x": 1}})).len(), 1);
    assert!(failures(&spec_x(json!({"type": "number"})), json!({"spec": {"x": 1}})).is_empty());
}

#[test]
fn integer_accepts_integral_floats_only() {
    let schema = spec_x(json!({"type": "integer"}));
    assert!(failures(&schema, json!({"spec": {"x": 3.0}})).is_empty());
    assert_eq!(failures(&schema, json!({"spec": {"x": 3.5}})), vec![("spec.x".into(), "FieldValueTypeInvalid")]);
}

#[test]
fn nullable_allows_null_and_non_nullable_rejects_it() {
    assert!(failures(&spec_x(json!({"type": "string", "nullable": true})), json!({"spec": {"x": null}})).is_empty());
    assert_eq!(failures(&spec_x(json!({"type": "string"})), json!({"spec": {"x": null}})), vec![("spec.x".into(), "FieldValueTypeInvalid")]);
}

#[test]
fn required_fields_are_reported_with_nested_array_paths() {
    let object = json!({"spec": {"listeners": [{"name": "a", "port": 80, "protocol": "HTTP"}, {"name": "b"}]}});
    let causes = validate(&gateway_schema(), &object);
    let fields: Vec<&str> = causes.iter().map(|cause| cause.field.as_str()).collect();
    assert_eq!(fields, ["spec.listeners[1].port", "spec.listeners[1].protocol"]);
    assert!(causes.iter().all(|cause| cause.reason == "FieldValueRequired" && cause.message == "Required value"));
    assert_eq!(failures(&gateway_schema(), json!({"spec": {}})), vec![("spec.listeners".into(), "FieldValueRequired")]);
}

#[test]
fn enum_reports_supported_values_and_compares_numbers_by_value() {
    assert_eq!(messages(json!({"enum": ["A", "B"]}), json!("X")), ["Unsupported value: \"X\": supported values: \"A\", \"B\""]);
    assert!(messages(json!({"enum": [1, 2]}), json!(2.0)).is_empty());
    assert_eq!(failures(&spec_x(json!({"enum": [1]})), json!({"spec": {"x": 3}})), vec![("spec.x".into(), "FieldValueNotSupported")]);
}

#[test]
fn pattern_mismatch_is_invalid_and_unsupported_patterns_are_skipped() {
    assert_eq!(messages(json!({"type": "string", "pattern": "^[0-9]+$"}), json!("abc")), ["Invalid value: \"abc\": spec.x in body should match '^[0-9]+$'"]);
    assert!(messages(json!({"type": "string", "pattern": "^(?=a)b$"}), json!("zzz")).is_empty());
    assert!(messages(json!({"type": "string", "pattern": "^[0-9]+$"}), json!("42")).is_empty());
}

#[test]
fn minimum_and_maximum_respect_exclusive_flags() {
    assert_eq!(
        messages(json!({"type": "integer", "maximum": 65535}), json!(70000)),
        ["Invalid value: 70000: spec.x in body should be less than or equal to 65535"]
    );
    assert_eq!(messages(json!({"type": "integer", "minimum": 1}), json!(0)), ["Invalid value: 0: spec.x in body should be greater than or equal to 1"]);
    assert_eq!(
        messages(json!({"type": "number", "minimum": 1, "exclusiveMinimum": true}), json!(1)),
        ["Invalid value: 1: spec.x in body should be greater than 1"]
    );
    assert_eq!(messages(json!({"type": "number", "maximum": 2.5, "exclusiveMaximum": true}), json!(2.5)).len(), 1);
    assert!(messages(json!({"type": "integer", "minimum": 1, "maximum": 10}), json!(10)).is_empty());
}

#[test]
fn string_lengths_count_unicode_characters() {
    assert!(messages(json!({"type": "string", "maxLength": 3}), json!("äöü")).is_empty());
    assert_eq!(messages(json!({"type": "string", "maxLength": 3}), json!("abcd")), ["Too long: may not be more than 3 bytes"]);
    assert_eq!(failures(&spec_x(json!({"type": "string", "minLength": 2})), json!({"spec": {"x": "é"}})), vec![("spec.x".into(), "FieldValueInvalid")]);
}

#[test]
fn item_and_property_counts_are_bounded() {
    assert_eq!(messages(json!({"type": "array", "maxItems": 2}), json!([1, 2, 3])), ["Too many: 3: must have at most 2 items"]);
    assert_eq!(failures(&spec_x(json!({"type": "array", "minItems": 1})), json!({"spec": {"x": []}})), vec![("spec.x".into(), "FieldValueInvalid")]);
    let map = json!({"type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": {"type": "string"}});
    assert_eq!(failures(&spec_x(map.clone()), json!({"spec": {"x": {"a": "1", "b": "2"}}})), vec![("spec.x".into(), "FieldValueTooMany")]);
    assert_eq!(failures(&spec_x(map), json!({"spec": {"x": {}}})), vec![("spec.x".into(), "FieldValueInvalid")]);
}

#[test]
fn integer_formats_do_not_bound_integers_as_on_kube_apiserver() {
    assert!(messages(json!({"type": "integer", "format": "int32"}), json!(3_000_000_000u64)).is_empty());
    assert!(messages(json!({"type": "integer", "format": "int64"}), json!(u64::MAX)).is_empty());
}

#[test]
fn date_time_format_follows_rfc3339() {
    let schema = json!({"type": "string", "format": "date-time"});
    for good in ["2024-02-29T23:59:59Z", "2024-05-01t12:00:00.123456+05:30", "2024-05-01T12:00:00-0800"] {
        assert!(messages(schema.clone(), json!(good)).is_empty(), "{good}");
    }
    for bad in ["2023-02-29T00:00:00Z", "2024-05-01", "2024-13-01T00:00:00Z", "2024-05-01T12:00:00", "yesterday"] {
        assert_eq!(messages(schema.clone(), json!(bad)).len(), 1, "{bad}");
    }
    assert_eq!(messages(schema, json!("now")), ["Invalid value: \"now\": spec.x in body must be of type date-time: \"now\""]);
}

#[test]
fn hostname_and_uuid_formats_are_checked_and_unchecked_formats_pass() {
    let schema = json!({"type": "string", "format": "hostname"});
    assert!(messages(schema.clone(), json!("api.example.com")).is_empty());
    assert_eq!(messages(schema.clone(), json!("-bad.example")).len(), 1);
    assert_eq!(messages(schema, json!("a..b")).len(), 1);
    assert_eq!(
        failures(&spec_x(json!({"type": "string", "format": "uuid"})), json!({"spec": {"x": "not-a-uuid"}})),
        vec![("spec.x".into(), "FieldValueTypeInvalid")]
    );
    assert!(messages(json!({"type": "string", "format": "isbn"}), json!("not checked")).is_empty());
}

#[test]
fn int_or_string_accepts_both_but_not_other_types() {
    let property = json!({"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]});
    assert!(messages(property.clone(), json!(8080)).is_empty());
    assert!(messages(property.clone(), json!("50%")).is_empty());
    assert_eq!(failures(&spec_x(property), json!({"spec": {"x": true}})), vec![("spec.x".into(), "FieldValueTypeInvalid")]);
}

#[test]
fn additional_properties_use_map_key_paths() {
    let schema = spec_x(json!({"type": "object", "additionalProperties": {"type": "string", "maxLength": 3}}));
    assert_eq!(failures(&schema, json!({"spec": {"x": {"ok": "abc", "app": "toolong"}}})), vec![("spec.x[app]".into(), "FieldValueTooLong")]);
    let closed = spec_x(json!({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false}));
    assert_eq!(failures(&closed, json!({"spec": {"x": {"a": "1", "b": "2"}}})), vec![("spec.x.b".into(), "FieldValueForbidden")]);
}

#[test]
fn list_type_set_and_map_report_duplicates() {
    let set = json!({"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "integer"}});
    assert_eq!(failures(&spec_x(set.clone()), json!({"spec": {"x": [1, 2, 1.0]}})), vec![("spec.x[2]".into(), "FieldValueDuplicate")]);
    assert!(messages(set, json!([1, 2, 3])).is_empty());
    let map = json!({"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name", "port"], "items": {"type": "object"}});
    let items = json!([{"name": "a", "port": 1}, {"name": "a", "port": 2}, {"port": 1, "name": "a", "extra": true}]);
    assert_eq!(messages(map, items), ["Duplicate value: {\"name\":\"a\",\"port\":1}"]);
}

#[test]
fn all_any_one_of_and_not_report_as_kube_apiserver() {
    let all = json!({"type": "string", "allOf": [{"minLength": 2}, {"pattern": "^a"}]});
    assert_eq!(
        messages(all, json!("b")).last().map(String::as_str),
        Some("Invalid value: \"\": \"spec.x\" must validate all the schemas (allOf). None validated")
    );
    let any = json!({"type": "object", "anyOf": [{"required": ["a"]}, {"required": ["b"]}]});
    assert!(messages(any.clone(), json!({"b": 1})).is_empty());
    let causes = validate(&spec_x(any), &json!({"spec": {"x": {"c": 1}}}));
    assert_eq!(causes[0].field, NO_FIELD);
    assert_eq!(causes[0].message, "Invalid value: \"\": \"spec.x\" must validate at least one schema (anyOf)");
    assert_eq!((causes[1].field.as_str(), causes[1].reason), ("spec.x.a", "FieldValueRequired"));
    let one = json!({"type": "integer", "oneOf": [{"minimum": 5}, {"maximum": 10}]});
    assert!(messages(one.clone(), json!(20)).is_empty());
    assert_eq!(messages(one, json!(7)), ["Invalid value: \"\": \"spec.x\" must validate one and only one schema (oneOf). Found 2 valid alternatives"]);
    let not = json!({"type": "string", "not": {"enum": ["IPAddress"]}});
    assert!(messages(not.clone(), json!("Hostname")).is_empty());
    assert_eq!(messages(not, json!("IPAddress")), ["Invalid value: \"\": \"spec.x\" must not validate the schema (not)"]);
}

/// The address schema of upstream Gateway API (spec and status): `oneOf` with a `not`.
fn gateway_address() -> Value {
    json!({"type": "object", "required": ["value"],
        "oneOf": [
            {"properties": {"type": {"enum": ["IPAddress"]}, "value": {"anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}}},
            {"properties": {"type": {"not": {"enum": ["IPAddress"]}}}}],
        "properties": {"type": {"type": "string", "default": "IPAddress"}, "value": {"type": "string"}}})
}

#[test]
fn gateway_addresses_validate_one_of_with_not() {
    for good in [
        json!({"type": "IPAddress", "value": "10.0.0.1"}),
        json!({"type": "IPAddress", "value": "2001:db8::1"}),
        json!({"type": "Hostname", "value": "a.example"}),
    ] {
        assert!(messages(gateway_address(), good.clone()).is_empty(), "{good}");
    }
    let causes = validate(&spec_x(gateway_address()), &json!({"spec": {"x": {"type": "IPAddress", "value": "example.com"}}}));
    assert_eq!(causes[0].message, "Invalid value: \"\": \"spec.x\" must validate one and only one schema (oneOf). Found none valid");
    assert_eq!(causes[0].field, NO_FIELD);
    // The closest alternative is the IPAddress one: its format failures follow, and block CEL.
    assert!(causes.iter().any(|c| c.field == "spec.x.value" && c.message.ends_with("must be of type ipv4: \"example.com\"")), "{causes:?}");
    assert!(blocks_rules(&causes).is_some());
}

#[test]
fn bounds_are_printed_as_go_prints_float64() {
    let weight = json!({"type": "integer", "minimum": 0, "maximum": 1000000});
    assert_eq!(messages(weight, json!(1000001)), ["Invalid value: 1000001: spec.x in body should be less than or equal to 1e+06"]);
    let port = json!({"type": "integer", "maximum": 65535});
    assert_eq!(messages(port, json!(70000)), ["Invalid value: 70000: spec.x in body should be less than or equal to 65535"]);
}

#[test]
fn root_envelope_is_only_type_checked() {
    let schema =
        json!({"type": "object", "required": ["metadata"], "properties": {"metadata": {"type": "object", "required": ["x"]}, "kind": {"enum": ["Other"]}}});
    assert!(failures(&schema, json!({"apiVersion": "v1", "kind": "Gateway", "metadata": {"name": "a"}})).is_empty());
    let bad = failures(&schema, json!({"apiVersion": 1, "metadata": "nope"}));
    assert_eq!(bad, vec![("apiVersion".into(), "FieldValueTypeInvalid"), ("metadata".into(), "FieldValueTypeInvalid")]);
    assert_eq!(failures(&schema, json!([1])), vec![(String::new(), "FieldValueTypeInvalid")]);
}

#[test]
fn embedded_resources_allow_and_keep_their_envelope() {
    let schema = spec_x(json!({"type": "object", "x-kubernetes-embedded-resource": true, "properties": {"spec": {"type": "object"}}}));
    let mut object = json!({"spec": {"x": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}, "junk": 1}}});
    prune(&schema, &mut object);
    assert_eq!(object, json!({"spec": {"x": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}}}}));
    assert!(failures(&schema, object).is_empty());
    assert_eq!(failures(&schema, json!({"spec": {"x": {"kind": 3}}})), vec![("spec.x.kind".into(), "FieldValueTypeInvalid")]);
}

#[test]
fn defaults_fill_nested_objects_inside_arrays() {
    let mut object = json!({"spec": {"listeners": [{"name": "a", "tls": {}}, {"name": "b"}, {"name": "c", "tls": {"mode": "Passthrough"}}]}});
    let mut schema = gateway_schema();
    schema["properties"]["spec"]["properties"]["listeners"]["items"]["properties"]["protocol"]["default"] = json!("HTTP");
    apply_defaults(&schema, &mut object);
    let listeners = &object["spec"]["listeners"];
    assert_eq!(listeners[0], json!({"name": "a", "protocol": "HTTP", "tls": {"mode": "Terminate"}}));
    assert_eq!(listeners[1], json!({"name": "b", "protocol": "HTTP"}));
    assert_eq!(listeners[2]["tls"]["mode"], "Passthrough");
}

#[test]
fn defaults_recurse_into_inserted_defaults_maps_and_nulls() {
    let schema = json!({"type": "object", "properties": {
        "spec": {"type": "object", "default": {}, "properties": {"replicas": {"type": "integer", "default": 1}, "note": {"type": "string", "nullable": true, "default": "n"}}},
        "labels": {"type": "object", "additionalProperties": {"type": "object", "properties": {"v": {"type": "string", "default": "d"}}}},
        "metadata": {"type": "object", "properties": {"name": {"type": "string", "default": "never"}}}}});
    let mut object = json!({"labels": {"k": {}}, "metadata": {}});
    apply_defaults(&schema, &mut object);
    assert_eq!(object, json!({"spec": {"replicas": 1, "note": "n"}, "labels": {"k": {"v": "d"}}, "metadata": {}}));
    let mut nulls = json!({"spec": {"replicas": null, "note": null}});
    apply_defaults(&schema, &mut nulls);
    assert_eq!(nulls["spec"], json!({"replicas": 1, "note": null}));
}

#[test]
fn prune_drops_unknown_fields_but_keeps_root_envelope_and_preserved_subtrees() {
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "items": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}},
        "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"typed": {"type": "object", "properties": {}}}},
        "empty": {"type": "object"}}}}});
    let mut object = json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n", "labels": {"a": "b"}}, "status": {"s": 1},
        "spec": {"items": [{"a": "1", "b": 2}], "raw": {"anything": {"deep": [1]}, "typed": {"gone": 1}}, "empty": {"x": 1}, "unknown": true}});
    prune(&schema, &mut object);
    assert_eq!(
        object,
        json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n", "labels": {"a": "b"}},
        "spec": {"items": [{"a": "1"}], "raw": {"anything": {"deep": [1]}, "typed": {}}, "empty": {}}})
    );
}

#[test]
fn prune_keeps_additional_properties_and_leaves_mistyped_values() {
    let schema = spec_x(json!({"type": "object", "additionalProperties": {"type": "object", "properties": {"keep": {"type": "integer"}}}}));
    let mut object = json!({"spec": {"x": {"k": {"keep": 1, "drop": 2}}}});
    prune(&schema, &mut object);
    assert_eq!(object, json!({"spec": {"x": {"k": {"keep": 1}}}}));
    let mut mistyped = json!({"spec": {"x": {"k": 5}}});
    prune(&spec_x(json!({"type": "string"})), &mut mistyped);
    assert_eq!(mistyped, json!({"spec": {"x": {"k": 5}}}));
}

#[test]
fn gateway_valid_object_passes() {
    let object = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "gw", "namespace": "default"},
        "spec": {"gatewayClassName": "portico", "listeners": [
            {"name": "http", "port": 80, "protocol": "HTTP", "hostname": "*.example.com"},
            {"name": "https", "port": 443, "protocol": "HTTPS", "hostname": "api.example.com", "tls": {"mode": "Terminate"}}]}});
    assert_eq!(validate(&gateway_schema(), &object), vec![]);
}

#[test]
fn gateway_invalid_objects_report_each_failure() {
    let schema = gateway_schema();
    let object = json!({"spec": {"gatewayClassName": "", "listeners": [
        {"name": "http", "port": 0, "protocol": "UDP", "hostname": "Bad_Host"},
        {"name": "http", "port": 70000, "protocol": "HTTP"},
        {"name": "x", "port": "80", "protocol": "TCP"}]}});
    let mut expected = vec![
        ("spec.gatewayClassName".to_owned(), "FieldValueInvalid"),
        ("spec.listeners[0].hostname".to_owned(), "FieldValueInvalid"),
        ("spec.listeners[0].port".to_owned(), "FieldValueInvalid"),
        ("spec.listeners[0].protocol".to_owned(), "FieldValueNotSupported"),
        ("spec.listeners[1].port".to_owned(), "FieldValueInvalid"),
        ("spec.listeners[2].port".to_owned(), "FieldValueTypeInvalid"),
        ("spec.listeners[1]".to_owned(), "FieldValueDuplicate"),
    ];
    let mut actual = failures(&schema, object);
    actual.sort();
    expected.sort();
    assert_eq!(actual, expected);
    let too_many: Vec<Value> = (0..65).map(|i| json!({"name": format!("l{i}"), "port": 80, "protocol": "HTTP"})).collect();
    let causes = validate(&schema, &json!({"spec": {"listeners": too_many}}));
    assert_eq!(causes.iter().map(|c| c.message.as_str()).collect::<Vec<_>>(), ["Too many: 65: must have at most 64 items"]);
    assert_eq!(failures(&schema, json!({"spec": {"listeners": []}})), vec![("spec.listeners".into(), "FieldValueInvalid")]);
}

#[test]
fn deep_nesting_and_odd_schemas_do_not_panic() {
    let mut deep = json!(1);
    let mut deep_schema = json!({"type": "integer"});
    for _ in 0..200 {
        deep = json!({"a": deep});
        deep_schema = json!({"type": "object", "properties": {"a": deep_schema}});
    }
    assert_eq!(validate(&deep_schema, &deep).len(), 1);
    let odd = json!({"type": 7, "properties": [], "required": "x", "items": true, "minimum": "1", "enum": {}, "pattern": 3});
    assert!(validate(&odd, &json!({"spec": [1]})).is_empty());
    apply_defaults(&odd, &mut deep);
    prune(&json!(null), &mut deep);
}
