//! `x-kubernetes-validations` (CEL) rules, evaluated as kube-apiserver evaluates them: each
//! rule runs with `self` bound to the value of the schema node that declares it (absent and
//! null values are not checked), transition rules (those reading `oldSelf`) run only on
//! updates where the old object has a correlatable value (object properties, map values,
//! `x-kubernetes-list-type: map` items by key), and a rule that does not hold is reported at
//! the node's path (plus `fieldPath`) with its `messageExpression`, `message` or
//! `failed rule: <rule>`, and its `reason`.

use super::cel_env::{self, to_cel};
use super::{Cause, MAX_DEPTH, META_KEYS, child_path, index_path, key_path, sub_schema};
use cel::Context;
use serde_json::{Map, Value};

const INVALID: &str = "FieldValueInvalid";

/// Evaluates every rule of `schema` on `object` (with `old` on updates) and returns the
/// failures. Rules are only run by the API server when OpenAPI validation found nothing
/// blocking (see [`super::blocks_rules`]).
pub fn validate_rules(schema: &Value, object: &Value, old: Option<&Value>) -> Vec<Cause> {
    let context = cel_env::root_context();
    let mut walker = Walker { context: &context, causes: Vec::new() };
    walker.node(schema, object, old, "", 0, true);
    walker.causes
}

/// Every rule of a schema, with the path of the node that declares it, for checks at CRD
/// creation: `(path, rule, messageExpression)`.
pub fn collect_rules(schema: &Value, path: &str, depth: usize, out: &mut Vec<(String, String, Option<String>)>) {
    if depth > MAX_DEPTH || !schema.is_object() {
        return;
    }
    for (index, rule) in schema.get("x-kubernetes-validations").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let source = rule.get("rule").and_then(Value::as_str).unwrap_or("").to_owned();
        let message_expression = rule.get("messageExpression").and_then(Value::as_str).map(str::to_owned);
        out.push((format!("{path}.x-kubernetes-validations[{index}]"), source, message_expression));
    }
    for (name, property) in schema.get("properties").and_then(Value::as_object).into_iter().flatten() {
        collect_rules(property, &format!("{path}.properties[{name}]"), depth + 1, out);
    }
    for key in ["items", "additionalProperties"] {
        if let Some(sub) = sub_schema(schema, key) {
            collect_rules(sub, &format!("{path}.{key}"), depth + 1, out);
        }
    }
}

/// Walks an object alongside its schema and its old version.
struct Walker<'c> {
    context: &'c Context<'static, 'static>,
    causes: Vec<Cause>,
}

impl Walker<'_> {
    /// Runs the rules of one node, then those below it.
    fn node(&mut self, schema: &Value, value: &Value, old: Option<&Value>, path: &str, depth: usize, root: bool) {
        if depth > MAX_DEPTH || value.is_null() || !schema.is_object() {
            return;
        }
        if let Some(rules) = schema.get("x-kubernetes-validations").and_then(Value::as_array).filter(|rules| !rules.is_empty()) {
            self.rules(schema, rules, value, old, path, root);
        }
        match value {
            Value::Object(map) => self.children(schema, map, old, path, depth, root),
            Value::Array(items) => {
                let Some(item_schema) = sub_schema(schema, "items") else { return };
                let keys = list_map_keys(schema);
                let old_items = old.and_then(Value::as_array);
                for (index, item) in items.iter().enumerate() {
                    let old_item = keys.as_ref().and_then(|keys| correlate(keys, item, old_items?));
                    self.node(item_schema, item, old_item, &index_path(path, index), depth + 1, false);
                }
            }
            _ => {}
        }
    }

    /// Walks the properties and additionalProperties values of an object.
    fn children(&mut self, schema: &Value, map: &Map<String, Value>, old: Option<&Value>, path: &str, depth: usize, root: bool) {
        let declared = schema.get("properties").and_then(Value::as_object);
        let additional = sub_schema(schema, "additionalProperties");
        for (key, child) in map {
            if root && META_KEYS.contains(&key.as_str()) {
                continue;
            }
            let old_child = old.and_then(|old| old.get(key));
            if let Some(property) = declared.and_then(|props| props.get(key)) {
                self.node(property, child, old_child, &child_path(path, key), depth + 1, false);
            } else if let Some(additional) = additional {
                self.node(additional, child, old_child, &key_path(path, key), depth + 1, false);
            }
        }
    }

    /// Evaluates the rules of one node.
    fn rules(&mut self, schema: &Value, rules: &[Value], value: &Value, old: Option<&Value>, path: &str, root: bool) {
        let self_value = to_cel(schema, &visible(value, root), 0);
        let old_value = old.filter(|old| !old.is_null()).map(|old| to_cel(schema, &visible(old, root), 0));
        let type_name = schema_type_name(schema, value);
        for rule in rules {
            let Some(source) = rule.get("rule").and_then(Value::as_str).filter(|source| !source.trim().is_empty()) else {
                continue;
            };
            let program = match cel_env::compile(source) {
                Ok(program) => program,
                Err(error) => {
                    self.report(path, INVALID, format!("Invalid value: {}: rule compile error: {error}", quote(type_name)));
                    continue;
                }
            };
            if cel_env::uses_old_self(&program) && old_value.is_none() {
                continue;
            }
            let mut scope = self.context.new_inner_scope();
            scope.add_variable_from_value("self", self_value.clone());
            if let Some(old_value) = &old_value {
                scope.add_variable_from_value("oldSelf", old_value.clone());
            }
            match program.execute(&scope) {
                Ok(cel::Value::Bool(true)) => {}
                Ok(cel::Value::Bool(false)) => {
                    let detail = message_of(rule, &scope);
                    self.failed(rule, value, path, type_name, detail);
                }
                Ok(other) => {
                    let detail = format!("rule did not evaluate to a bool ({:?}) evaluating rule: {}", other.type_of(), rule_error_string(rule));
                    self.report(path, INVALID, format!("Invalid value: {}: {detail}", quote(type_name)));
                }
                Err(error) => {
                    let detail = format!("{error} evaluating rule: {}", rule_error_string(rule));
                    self.report(path, INVALID, format!("Invalid value: {}: {detail}", quote(type_name)));
                }
            }
        }
    }

    /// Records a rule that evaluated to false, with its reason and field path.
    fn failed(&mut self, rule: &Value, value: &Value, path: &str, type_name: &str, detail: String) {
        let field = with_field_path(path, rule.get("fieldPath").and_then(Value::as_str).unwrap_or(""));
        let shown = if matches!(type_name, "object" | "array") { None } else { Some(super::render(value)) };
        let (reason, message) = match rule.get("reason").and_then(Value::as_str).unwrap_or("") {
            "FieldValueForbidden" => ("FieldValueForbidden", format!("Forbidden: {detail}")),
            "FieldValueRequired" => ("FieldValueRequired", format!("Required value: {detail}")),
            "FieldValueDuplicate" => ("FieldValueDuplicate", shown.map_or("Duplicate value".to_owned(), |v| format!("Duplicate value: {v}"))),
            _ => (INVALID, shown.map_or(format!("Invalid value: {detail}"), |v| format!("Invalid value: {v}: {detail}"))),
        };
        self.report(&field, reason, message);
    }

    /// Records one cause.
    fn report(&mut self, field: &str, reason: &'static str, message: String) {
        self.causes.push(Cause { field: field.to_owned(), reason, message });
    }
}

/// The value a rule sees: at the root, `metadata` only shows `name` and `generateName`.
fn visible(value: &Value, root: bool) -> std::borrow::Cow<'_, Value> {
    let Some(map) = value.as_object().filter(|_| root) else {
        return std::borrow::Cow::Borrowed(value);
    };
    let mut copy = map.clone();
    if let Some(Value::Object(metadata)) = copy.get_mut("metadata") {
        metadata.retain(|key, _| key == "name" || key == "generateName");
    }
    std::borrow::Cow::Owned(Value::Object(copy))
}

/// The `messageExpression` result when it evaluates to a usable string, else the message.
fn message_of(rule: &Value, scope: &Context) -> String {
    if let Some(source) = rule.get("messageExpression").and_then(Value::as_str)
        && let Ok(program) = cel_env::compile(source)
        && let Ok(cel::Value::String(text)) = program.execute(scope)
        && !text.trim().is_empty()
        && !text.contains('\n')
    {
        return text.to_string();
    }
    match rule.get("message").and_then(Value::as_str).map(str::trim).filter(|message| !message.is_empty()) {
        Some(message) => message.to_owned(),
        None => format!("failed rule: {}", rule_error_string(rule)),
    }
}

/// The rule's message, or its source when it has none (kube-apiserver's ruleErrorString).
fn rule_error_string(rule: &Value) -> String {
    let message = rule.get("message").and_then(Value::as_str).map(str::trim).unwrap_or("");
    if message.is_empty() { rule.get("rule").and_then(Value::as_str).unwrap_or("").trim().to_owned() } else { message.to_owned() }
}

/// The schema type a failing rule reports for its node ("object", "array", "string", ...).
fn schema_type_name<'a>(schema: &'a Value, value: &Value) -> &'a str {
    match cel_env::schema_type(schema) {
        Some(name) => name,
        None if value.is_object() => "object",
        None if value.is_array() => "array",
        None => "",
    }
}

/// Quotes a string as Go's `%q` does for plain ASCII text.
fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// Appends a rule's `fieldPath` (`.a.b`, `.a['b']`, `.a[0]`) to the node's path.
fn with_field_path(path: &str, field_path: &str) -> String {
    let mut out = path.to_owned();
    let mut rest = field_path.trim();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            out = child_path(&out, &after[..end]);
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix("['") {
            let end = after.find("']").unwrap_or(after.len());
            out = child_path(&out, &after[..end]);
            rest = after.get(end + 2..).unwrap_or("");
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']').unwrap_or(after.len());
            out = format!("{out}[{}]", &after[..end]);
            rest = after.get(end + 1..).unwrap_or("");
        } else {
            break;
        }
    }
    out
}

/// The `x-kubernetes-list-map-keys` of a `map` list, if the schema declares one.
fn list_map_keys(schema: &Value) -> Option<Vec<&str>> {
    if schema.get("x-kubernetes-list-type").and_then(Value::as_str) != Some("map") {
        return None;
    }
    let keys = schema.get("x-kubernetes-list-map-keys")?.as_array()?;
    Some(keys.iter().filter_map(Value::as_str).collect())
}

/// The old item of a `map` list with the same key values as `item`.
fn correlate<'a>(keys: &[&str], item: &Value, old_items: &'a [Value]) -> Option<&'a Value> {
    old_items.iter().find(|old| keys.iter().all(|key| old.get(*key) == item.get(*key)))
}

#[cfg(test)]
#[path = "cel_tests.rs"]
mod tests;
