//! Nothing silently ignored: every spec field of every Gateway API kind Portico reads (walked over
//! the upstream v1.6 experimental CRDs, a superset of the standard channel) must have an entry in
//! `fields/coverage.yaml` saying how Portico answers it, every entry must be set by a golden case,
//! and the answers are checked against translation itself:
//! - a `feature`/`fact` entry: removing that capability from every platform gives some golden
//!   case setting the field more "not supported by" conditions than it had (so a platform without
//!   it answers with a condition, never by dropping the field);
//! - an `unsupported` entry: a golden case setting it gets a "not supported" condition that names
//!   it.
//!
//! A field added upstream fails the first check until someone decides how Portico answers it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use portico_model::{Capabilities, Fact, Feature};
use portico_provider::{Check, Desired, Planner};
use portico_translate::document::Planners;
use portico_translate::golden;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum How {
    /// `core`.
    Word(String),
    Detail(Detail),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Detail {
    feature: Option<String>,
    fact: Option<String>,
    unsupported: Option<String>,
    ignored: Option<String>,
}

type Coverage = BTreeMap<String, BTreeMap<String, How>>;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn coverage() -> Coverage {
    let text = std::fs::read_to_string(manifest_dir().join("fields/coverage.yaml")).unwrap();
    serde_yaml::from_str(&text).expect("fields/coverage.yaml is well-formed")
}

/// Every leaf field path under `spec` of `schema` (`[]` for list items; a map is one leaf).
fn leaves(schema: &Value, path: &str, out: &mut Vec<String>) {
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, child) in properties {
            leaves(child, &format!("{path}.{name}"), out);
        }
    } else if schema.get("type").and_then(Value::as_str) == Some("array") && schema.get("items").is_some() {
        leaves(&schema["items"], &format!("{path}[]"), out);
    } else {
        out.push(path.to_string());
    }
}

/// The upstream schema's spec leaves per kind, for the kinds `wanted`.
fn upstream_fields(wanted: &BTreeSet<&str>) -> BTreeMap<String, Vec<String>> {
    let dir = manifest_dir().join("../../tests/apiserver/testdata/gateway-api-v1.6.1/experimental");
    let mut out = BTreeMap::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for file in files {
        for document in serde_yaml::Deserializer::from_str(&std::fs::read_to_string(&file).unwrap()) {
            let crd = Value::deserialize(document).unwrap();
            let kind = crd["spec"]["names"]["kind"].as_str().unwrap_or_default().to_string();
            if !wanted.contains(kind.as_str()) {
                continue;
            }
            let versions = crd["spec"]["versions"].as_array().cloned().unwrap_or_default();
            let storage = versions.iter().find(|v| v["storage"] == Value::Bool(true)).expect("a storage version");
            let mut fields = Vec::new();
            leaves(&storage["schema"]["openAPIV3Schema"]["properties"]["spec"], "spec", &mut fields);
            out.insert(kind, fields);
        }
    }
    out
}

/// Whether `path` is `entry` or below it.
fn under(path: &str, entry: &str) -> bool {
    path == entry || path.strip_prefix(entry).is_some_and(|rest| rest.starts_with('.') || rest.starts_with("[]"))
}

/// The entry covering `leaf`: the longest key it is under.
fn covering<'a>(entries: &'a BTreeMap<String, How>, leaf: &str) -> Option<&'a str> {
    entries.keys().filter(|k| under(leaf, k)).max_by_key(|k| k.len()).map(String::as_str)
}

/// Every field path a value sets (maps' keys included, `[]` for list items).
fn set_paths(value: &Value, path: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => map.iter().for_each(|(k, v)| set_paths(v, &format!("{path}.{k}"), out)),
        Value::Array(items) => items.iter().for_each(|v| set_paths(v, &format!("{path}[]"), out)),
        _ => {
            out.insert(path.to_string());
        }
    }
}

struct Case {
    name: String,
    text: String,
    /// Per kind, the spec field paths its documents set.
    fields: BTreeMap<String, BTreeSet<String>>,
}

fn cases() -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(manifest_dir().join("testdata")).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|p| p.to_string_lossy().ends_with(".in.yaml"));
    files.sort();
    files.iter().map(|path| read_case(path)).collect()
}

fn read_case(path: &Path) -> Case {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut fields: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // Cases of unreadable input (some built to be slow to parse) set no field.
    if portico_model::load::load_str(&text, &name, &mut Default::default()).is_err() {
        return Case { name, text, fields };
    }
    for document in serde_yaml::Deserializer::from_str(&text) {
        let Ok(value) = Value::deserialize(document) else { continue };
        let (Some(kind), Some(spec)) = (value.get("kind").and_then(Value::as_str), value.get("spec")) else { continue };
        set_paths(spec, "spec", fields.entry(kind.to_string()).or_default());
    }
    Case { name, text, fields }
}

/// A planner whose platform lacks one capability.
struct Without {
    inner: Box<dyn Planner>,
    caps: Capabilities,
}

impl Planner for Without {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }
    fn check(&self, desired: &Desired) -> Check {
        self.inner.check(desired)
    }
    fn plan_from_empty(&self, desired: &Desired) -> Option<Value> {
        self.inner.plan_from_empty(desired)
    }
}

fn planners() -> Planners {
    golden::planners(&[&portico_haproxy::DESCRIPTOR, &portico_aws::DESCRIPTOR, &portico_gcp::DESCRIPTOR])
}

/// Every platform, with `remove` applied to its capabilities.
fn planners_without(remove: &dyn Fn(&mut Capabilities)) -> Planners {
    planners()
        .into_iter()
        .map(|(kind, inner)| {
            let mut caps = inner.capabilities().clone();
            remove(&mut caps);
            (kind, Box::new(Without { inner, caps }) as Box<dyn Planner>)
        })
        .collect()
}

fn translated(case: &Case, planners: &Planners) -> String {
    serde_json::to_string(&golden::case(&case.text, &case.name, planners, &golden::no_outcomes(), true)).unwrap()
}

/// Every text of the output that says something is not supported.
fn not_supported_messages(output: &str) -> Vec<String> {
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(text) if text.contains("not supported") => out.push(text.clone()),
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            Value::Object(map) => map.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&serde_json::from_str(output).unwrap_or(Value::Null), &mut out);
    out
}

fn not_supported_count(output: &str) -> usize {
    output.matches("not supported by").count()
}

/// The capability an entry names, as a remover; `Err` when it names none that exists.
/// Takes one capability away from a platform's declaration.
type Remover = Box<dyn Fn(&mut Capabilities)>;

fn remover(detail: &Detail) -> Result<Option<Remover>, String> {
    if let Some(name) = &detail.feature {
        let feature = Feature::from_name(name).ok_or_else(|| format!("feature {name} is not a Feature"))?;
        return Ok(Some(Box::new(move |caps: &mut Capabilities| {
            caps.features.remove(&feature);
        })));
    }
    if let Some(name) = &detail.fact {
        let fact = Fact::from_name(name).ok_or_else(|| format!("fact {name} is not a Fact"))?;
        return Ok(Some(Box::new(move |caps: &mut Capabilities| {
            caps.facts.remove(&fact);
        })));
    }
    Ok(None)
}

/// What is wrong with one entry's answer, checked against the cases that set it.
fn check_answer(entry: &str, how: &How, setting: &[&Case], normal: &Planners) -> Result<(), String> {
    let detail = match how {
        How::Word(word) if word == "core" => return Ok(()),
        How::Word(other) => return Err(format!("unknown answer {other:?} (core, feature, fact, unsupported, ignored)")),
        How::Detail(detail) => detail,
    };
    if detail.ignored.is_some() {
        return Ok(());
    }
    if let Some(says) = &detail.unsupported {
        let answered = setting.iter().any(|case| not_supported_messages(&translated(case, normal)).iter().any(|m| m.contains(says.as_str())));
        return if answered { Ok(()) } else { Err(format!("no case setting it gets a \"not supported\" condition naming {says:?}")) };
    }
    let Some(remove) = remover(detail)? else { return Err("an entry needs feature, fact, unsupported or ignored".into()) };
    let without = planners_without(&*remove);
    // Either a platform has the capability and loses it here, or the platforms of some case lack
    // it already and that case names the field in a "not supported by" condition.
    let field = entry.rsplit(['.', ']']).next().unwrap_or(entry).to_ascii_lowercase();
    let answered = setting.iter().any(|case| {
        let normal_output = translated(case, normal);
        let already = not_supported_messages(&normal_output).iter().any(|m| m.to_ascii_lowercase().contains(&field));
        already || not_supported_count(&translated(case, &without)) > not_supported_count(&normal_output)
    });
    if answered { Ok(()) } else { Err("no case setting it gets a \"not supported by\" condition naming it, with or without the capability".into()) }
}

#[test]
fn every_field_read_is_implemented_or_answered() {
    let coverage = coverage();
    let kinds: BTreeSet<&str> = coverage.keys().map(String::as_str).collect();
    let upstream = upstream_fields(&kinds);
    let cases = cases();
    let normal = planners();
    let mut problems = Vec::new();
    for (kind, entries) in &coverage {
        let Some(fields) = upstream.get(kind) else {
            problems.push(format!("{kind}: no upstream CRD"));
            continue;
        };
        for leaf in fields.iter().filter(|leaf| covering(entries, leaf).is_none()) {
            problems.push(format!("{kind} {leaf}: not in fields/coverage.yaml (decide how Portico answers it)"));
        }
        for (entry, how) in entries {
            if !fields.iter().any(|leaf| under(leaf, entry)) {
                problems.push(format!("{kind} {entry}: no such field upstream"));
                continue;
            }
            // The cases setting a field this entry covers (not one a longer entry covers).
            let setting: Vec<&Case> = cases
                .iter()
                .filter(|c| c.fields.get(kind).is_some_and(|set| set.iter().any(|p| under(p, entry) && covering(entries, p) == Some(entry.as_str()))))
                .collect();
            if setting.is_empty() {
                problems.push(format!("{kind} {entry}: no golden case in testdata/ sets it"));
                continue;
            }
            if let Err(why) = check_answer(entry, how, &setting, &normal) {
                problems.push(format!("{kind} {entry}: {why}"));
            }
        }
    }
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn the_walk_sees_fields_it_must_answer() {
    // The walk itself: these fields exist upstream and are caught when missing from the table.
    let upstream = upstream_fields(&["Gateway", "HTTPRoute"].into());
    assert!(upstream["Gateway"].iter().any(|f| f == "spec.tls.frontend.default.validation.mode"));
    assert!(upstream["HTTPRoute"].iter().any(|f| f == "spec.rules[].retry.attempts"));
    let mut entries = BTreeMap::new();
    entries.insert("spec.rules[].retry".to_string(), How::Word("core".into()));
    assert_eq!(covering(&entries, "spec.rules[].retry.codes[]"), Some("spec.rules[].retry"));
    assert_eq!(covering(&entries, "spec.rules[].retryX"), None);
}
