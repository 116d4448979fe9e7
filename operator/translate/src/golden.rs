//! The golden-case runner that the translate and provider crates' tests share: one case's input
//! text in, the value its snapshot holds out. Pure, with a fixed clock.

use std::collections::BTreeMap;

use portico_model::load::{self, Loaded};
use portico_provider::Descriptor;
use serde_json::Value;

use crate::document::{self, ObjectDetail, Outcomes, PLAN_CLUSTER, Planners};

/// The time golden cases are computed at.
pub const NOW: &str = "2000-01-01T00:00:00Z";

/// The pure parts of `descriptors`, for the cluster `portico plan` uses.
pub fn planners(descriptors: &[&Descriptor]) -> Planners {
    descriptors.iter().map(|d| (d.kind, (d.planner)(PLAN_CLUSTER))).collect()
}

/// What a case's snapshot holds: the status-only document of `text` (a multi-document YAML
/// named `name`) with `outcomes` folded in, or the one-line error `portico plan` prints when
/// it cannot be loaded. With `redact`, every `lastTransitionTime` reads `[redacted]`.
pub fn case(text: &str, name: &str, planners: &Planners, outcomes: &Outcomes, redact: bool) -> Value {
    let mut loaded = Loaded::default();
    if let Err(error) = load::load_str(text, name, &mut loaded) {
        return Value::String(format!("error: {error}"));
    }
    let document = document::document_with_outcomes(&loaded, planners, outcomes, NOW, ObjectDetail::StatusOnly);
    let mut value = serde_json::to_value(&document).unwrap_or(Value::Null);
    if redact {
        redact_times(&mut value);
    }
    value
}

fn redact_times(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "lastTransitionTime" {
                    *v = Value::String("[redacted]".into());
                } else {
                    redact_times(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_times),
        _ => {}
    }
}

/// No outcomes: what `portico plan` shows before anything is programmed.
pub fn no_outcomes() -> Outcomes {
    BTreeMap::new()
}
