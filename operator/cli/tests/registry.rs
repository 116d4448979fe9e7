//! Every registered platform's descriptor agrees with itself: its capabilities name its kind,
//! its parameters CRD is the kind translation asks for, and every field a Gateway may tune on
//! its own exists in that CRD.

#[test]
fn descriptors_are_consistent() {
    let registry = portico_cli::registry();
    assert!(registry.descriptors().count() >= 1);
    for descriptor in registry.descriptors() {
        let caps = (descriptor.capabilities)();
        assert_eq!(caps.provider, descriptor.kind);
        let crd = (descriptor.parameters_crd)();
        assert_eq!(crd.spec.names.kind, caps.parameters_kind, "{}", descriptor.kind);
        assert_eq!(crd.spec.group, portico_model::capabilities::PORTICO_GROUP);
        let schema = serde_json::to_value(&crd.spec.versions[0].schema).unwrap();
        let fields = &schema["openAPIV3Schema"]["properties"]["spec"]["properties"];
        for field in caps.gateway_parameters.iter().map(String::as_str).chain([portico_model::capabilities::GATEWAY_OVERRIDES_FIELD]) {
            assert!(fields.get(field).is_some(), "{field} is not a field of {}", crd.spec.names.kind);
        }
        // Offline planners (for `portico plan`) speak for the same platform.
        assert_eq!((descriptor.planner)("default").capabilities().provider, descriptor.kind);
    }
}

#[test]
fn every_provider_starts_from_its_default_flags() {
    for descriptor in portico_cli::registry().descriptors() {
        assert!(descriptor.configure_defaults().is_ok(), "{} cannot be configured from an empty command line", descriptor.kind);
    }
}
