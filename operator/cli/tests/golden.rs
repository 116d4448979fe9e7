//! Golden cases: every `testdata/<case>.in.yaml` is loaded and translated exactly as
//! `portico plan` does, and the statuses and IR are compared with `tests/snapshots/`.
//! Inputs that cannot be loaded snapshot the one-line error `portico plan` would print.
//! To add a case: write the input, run `cargo insta test --accept` (or `INSTA_UPDATE=always`),
//! and review the new snapshot as carefully as code.

use portico::plan::{self, ObjectDetail};
use portico_model::load::{self, Loaded};
use serde_json::Value;

const NOW: &str = "2000-01-01T00:00:00Z";

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

#[test]
fn golden() {
    insta::glob!("../testdata", "*.in.yaml", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let mut loaded = Loaded::default();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let snapshot = match load::load_str(&text, &name, &mut loaded) {
            Err(error) => Value::String(format!("error: {error}")),
            Ok(()) => {
                let document = plan::document(&loaded, &portico_cli::registry(), NOW, ObjectDetail::StatusOnly);
                let mut value = serde_json::to_value(&document).unwrap();
                redact_times(&mut value);
                value
            }
        };
        insta::assert_yaml_snapshot!(snapshot);
    });
}
