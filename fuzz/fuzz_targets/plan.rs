//! `portico plan` end to end on arbitrary text: load -> translate -> every platform's pure checks and plans
//! (inside `plan::document`) -> the HAProxy renderer on every Gateway's IR. Nothing may panic,
//! and the renderer never has to refuse what translation accepted (translation checks first).
#![no_main]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use portico::plan::{self, ObjectDetail};
use portico_haproxy::{GatewayInput, RenderSettings, render};
use portico_model::load::{self, Loaded};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut loaded = Loaded::default();
    if load::load_str(text, "fuzz", &mut loaded).is_err() {
        return;
    }
    // Every platform's pure part, without the cloud SDKs (their `sdk` feature is off here).
    let registry = portico::Registry::new([&portico_haproxy::DESCRIPTOR, &portico_aws::DESCRIPTOR, &portico_gcp::DESCRIPTOR]);
    let _ = plan::document(&loaded, &registry, "2000-01-01T00:00:00Z", ObjectDetail::StatusOnly);
    let translation = portico_translate::translate(&loaded.snapshot, &registry.capabilities());
    let settings = RenderSettings {
        cert_dir: "/run/portico/certs".into(),
        port_offset: 8000,
        timeout_connect_ms: 5_000,
        timeout_client_ms: 30_000,
        timeout_server_ms: 30_000,
        runtime_socket: "/run/portico/haproxy.sock".into(),
    };
    let mut certificates = BTreeMap::new();
    for ir in translation.gateways.values() {
        certificates.extend(portico_translate::desired::certificates_for(&loaded.snapshot, ir));
    }
    let address = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10));
    let inputs: Vec<GatewayInput<'_>> = translation.gateways.values().map(|ir| GatewayInput { ir, address }).collect();
    let rendered = render(&inputs, &certificates, &settings);
    assert!(rendered.refused.is_empty(), "translation accepted what the renderer refuses: {:?}", rendered.refused);
});
