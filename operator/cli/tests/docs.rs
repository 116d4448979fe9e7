//! The docs that the code keeps true.

use portico_translate::conditions::reason;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn provider_matrix_in_docs_matches_the_capability_declarations() {
    let providers: Vec<_> = portico_cli::registry().descriptors().map(|d| (d.capabilities)()).collect();
    let rendered = portico::matrix::render(&providers);
    let doc = read("docs/providers.md");
    let embedded = portico::matrix::embedded(&doc).expect("docs/providers.md has the matrix markers");
    assert_eq!(embedded, rendered.trim(), "docs/providers.md is out of date: replace the table between the markers with `portico capabilities`");
}

#[test]
fn every_condition_reason_is_documented() {
    let doc = read("docs/conditions.md");
    for reason in reason::ALL {
        assert!(doc.contains(&format!("`{reason}`")), "docs/conditions.md does not explain `{reason}`");
    }
}

#[test]
fn crds_file_matches_the_generated_crds() {
    assert_eq!(
        read("crds/gateway-api.yaml"),
        portico_model::crds::gateway_api_crds_yaml(),
        "crds/gateway-api.yaml is out of date: regenerate it with `portico crds > crds/gateway-api.yaml`"
    );
}

#[test]
fn portico_crds_file_matches_the_parameters_types() {
    assert_eq!(
        read("crds/portico.yaml"),
        portico_cli::registry().crds_yaml(),
        "crds/portico.yaml is out of date: regenerate it with `portico crds portico > crds/portico.yaml`"
    );
}
