//! Golden cases whose subject is AWS's native plan, quotas or capabilities: every
//! `testdata/<case>.in.yaml` is loaded and translated exactly as `portico plan` does, and the
//! statuses, IR and native plan from empty are compared with `tests/snapshots/`. The other
//! golden cases live in the translate crate (`operator/translate/testdata`).
//! To add a case: write the input, run `cargo insta test --accept` (or `INSTA_UPDATE=always`),
//! and review the new snapshot as carefully as code.

use portico_translate::golden;

#[test]
fn golden() {
    let planners = golden::planners(&[&portico_haproxy::DESCRIPTOR, &portico_aws::DESCRIPTOR, &portico_gcp::DESCRIPTOR]);
    insta::glob!("../testdata", "*.in.yaml", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let snapshot = golden::case(&text, &name, &planners, &golden::no_outcomes(), true);
        insta::assert_yaml_snapshot!(snapshot);
    });
}
