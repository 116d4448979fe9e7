//! Unit tests of the CEL rules: the environment, messages, reasons, paths and transitions.
use super::*;
use serde_json::json;

/// A resource schema with `spec.x` of the given schema.
fn spec_x(property: Value) -> Value {
    json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {"x": property}}}})
}

/// The causes of `rules` on `{spec: {x: value}}`.
fn run(property: Value, value: Value) -> Vec<Cause> {
    validate_rules(&spec_x(property), &json!({"spec": {"x": value}}), None)
}

/// A schema of `type` with one rule and message.
fn rule(kind: &str, source: &str, message: &str) -> Value {
    json!({"type": kind, "x-kubernetes-validations": [{"rule": source, "message": message}]})
}

#[test]
fn failing_rule_reports_path_and_message_without_value_for_objects() {
    let causes = run(rule("object", "has(self.a) || !has(self.b)", "b needs a"), json!({"b": 1}));
    assert_eq!(causes, vec![Cause { field: "spec.x".into(), reason: "FieldValueInvalid", message: "Invalid value: b needs a".into() }]);
    assert!(run(rule("object", "has(self.a) || !has(self.b)", "b needs a"), json!({"a": 1, "b": 1})).is_empty());
    let scalar = run(rule("string", "self.startsWith('/')", "must be absolute"), json!("relative"));
    assert_eq!(scalar[0].message, "Invalid value: \"relative\": must be absolute");
}

#[test]
fn message_expression_reason_field_path_and_default_message() {
    let property = json!({"type": "object", "x-kubernetes-validations": [
        {"rule": "self.n < 3", "messageExpression": "'n is ' + string(self.n)", "reason": "FieldValueForbidden", "fieldPath": ".n"},
        {"rule": "self.n < 2"}]});
    let causes = run(property, json!({"n": 5}));
    assert_eq!(causes[0], Cause { field: "spec.x.n".into(), reason: "FieldValueForbidden", message: "Forbidden: n is 5".into() });
    assert_eq!(causes[1].message, "Invalid value: failed rule: self.n < 2");
}

#[test]
fn macros_strings_durations_and_kubernetes_functions() {
    let ok = |source: &str, value: Value| {
        let causes = run(rule("object", source, "m"), value);
        assert!(causes.is_empty(), "{source}: {causes:?}");
        true
    };
    let list = json!({"l": [{"t": "a"}, {"t": "b"}, {"t": "a"}], "s": "*.example.com", "d": "90s"});
    assert!(ok("self.l.filter(f, f.t == 'a').size() == 2", list.clone()));
    assert!(ok("self.l.exists_one(f, f.t == 'b') && !self.l.all(f, f.t == 'a') && self.l.exists(f, f.t == 'a')", list.clone()));
    assert!(ok("self.l.map(f, f.t).size() == 3 && 'a' in self.l.map(f, f.t)", list.clone()));
    assert!(ok("self.s.startsWith('*.') && self.s.substring(2).matches(r\"\"\"^[a-z.]+$\"\"\") && self.s.endsWith('.com')", list.clone()));
    assert!(ok("self.s.split('.')[1] == 'example' && self.s.contains('example') && 'AbC'.lowerAscii() == 'abc'", list.clone()));
    assert!(ok("duration(self.d) > duration('1m') && duration(self.d) < duration('1h') && duration('1h30m') > duration('500ms')", list.clone()));
    assert!(ok("isIP('10.0.0.1') && isIP('2001:db8::1') && !isIP('example.com') && !isIP('::ffff:10.0.0.1') && !isIP('fe80::1%eth0')", list.clone()));
    assert!(ok("!format.dns1123Label().validate('good-name').hasValue() && format.dns1123Label().validate('Bad_Name').hasValue()", list.clone()));
    // As in cel-go, an optional never equals null (upstream's XBackend port-name rule
    // compares `validate(self) == null`, so it refuses every non-empty name on a cluster too).
    assert!(ok("format.dns1123Label().validate('good-name') != null", list));
}

#[test]
fn reserved_property_names_are_escaped_and_map_keys_are_not() {
    let property = json!({"type": "object", "properties": {"namespace": {"type": "string"}, "a-b": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}}}});
    let mut with_rule = property.clone();
    with_rule["x-kubernetes-validations"] =
        json!([{"rule": "self.__namespace__ == 'ns' && self.a__dash__b == 'x' && self.labels['app.kubernetes.io/name'] == 'y'"}]);
    assert!(run(with_rule, json!({"namespace": "ns", "a-b": "x", "labels": {"app.kubernetes.io/name": "y"}})).is_empty());
}

#[test]
fn transition_rules_need_a_correlated_old_value() {
    let schema = spec_x(json!({"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
        "items": {"type": "object", "properties": {"name": {"type": "string"},
            "v": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "Value is immutable"}]}}}}));
    let old = json!({"spec": {"x": [{"name": "a", "v": "1"}, {"name": "b", "v": "2"}]}});
    let new = json!({"spec": {"x": [{"name": "b", "v": "2"}, {"name": "a", "v": "changed"}, {"name": "c", "v": "3"}]}});
    assert!(validate_rules(&schema, &new, None).is_empty(), "no old object: transition rules do not run");
    let causes = validate_rules(&schema, &new, Some(&old));
    assert_eq!(
        causes,
        vec![Cause { field: "spec.x[1].v".into(), reason: "FieldValueInvalid", message: "Invalid value: \"changed\": Value is immutable".into() }]
    );
}

#[test]
fn numbers_are_doubles_and_integers_ints() {
    let property = json!({"type": "object", "properties": {"n": {"type": "number"}, "i": {"type": "integer"}},
        "x-kubernetes-validations": [{"rule": "type(self.n) == double && type(self.i) == int && self.n > 1.5"}]});
    assert!(run(property, json!({"n": 2, "i": 3})).is_empty());
}

#[test]
fn runtime_errors_are_reported_and_absent_values_are_not_checked() {
    let causes = run(rule("object", "self.missing == 'x'", "m"), json!({}));
    assert_eq!(causes.len(), 1);
    assert!(causes[0].message.starts_with("Invalid value: \"object\": ") && causes[0].message.ends_with("evaluating rule: m"), "{causes:?}");
    let schema = spec_x(rule("object", "false", "never"));
    assert!(validate_rules(&schema, &json!({"spec": {}}), None).is_empty());
}

#[test]
fn root_rules_see_only_name_and_generate_name_in_metadata() {
    let schema = json!({"type": "object", "x-kubernetes-validations": [{"rule": "self.metadata.name == 'n' && !has(self.metadata.labels)"}]});
    assert!(validate_rules(&schema, &json!({"metadata": {"name": "n", "labels": {"a": "b"}}}), None).is_empty());
}

#[test]
fn crd_check_refuses_rules_that_do_not_compile_or_call_unknown_functions() {
    let schema = spec_x(json!({"type": "string", "x-kubernetes-validations": [
        {"rule": "self.size( >"}, {"rule": "quantity(self).isGreaterThan(quantity('1'))"}, {"rule": "self.size() > 0"}],
        "uniqueItems": true}));
    let failures = super::super::check_crd_schema(&schema, "spec.versions[0].schema.openAPIV3Schema");
    let fields: Vec<&str> = failures.iter().map(|(field, _)| field.as_str()).collect();
    let base = "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[x]";
    assert_eq!(fields, [format!("{base}.x-kubernetes-validations[0].rule"), format!("{base}.x-kubernetes-validations[1].rule"), format!("{base}.uniqueItems")]);
    assert!(failures[1].1.contains("undeclared reference to 'isGreaterThan'") || failures[1].1.contains("'quantity'"), "{failures:?}");
}
