//! Portico's own conformance scenarios, one per upstream Gateway API conformance test (same
//! ShortName), run against the real `portico` binary, real HAProxy and echo Deployments of the
//! cluster emulation. Writes an upstream-format `ConformanceReport` when
//! `PORTICO_CONFORMANCE_REPORT=<path>` is set; fails when any scenario fails.
//!
//! `PORTICO_CONFORMANCE_RUN=<ShortName>,...` runs only those scenarios (for debugging).

#[allow(dead_code)]
#[path = "../e2e/world.rs"]
mod world;

mod backendtls;
mod base;
mod check;
mod cors;
mod filters;
mod gateway;
mod gateway_ext;
mod grpc;
mod http;
mod http_ext;
mod listenerset;
mod more;
mod mtls;
mod report;
mod retry;
mod sticky;
mod tls;
mod tls_traffic;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use check::Ctx;
use report::Outcome;
use serde_json::{Value, json};

const OFFSET: u16 = 21000;

type Scenario = for<'a> fn(&'a Ctx) -> Pin<Box<dyn Future<Output = check::Outcome> + Send + 'a>>;

macro_rules! scenarios {
    ($($name:literal => $f:expr),* $(,)?) => {
        vec![$(($name, (|c| Box::pin($f(c))) as Scenario)),*]
    };
}

fn all_scenarios() -> Vec<(&'static str, Scenario)> {
    scenarios![
        "HTTPRouteSimpleSameNamespace" => http::simple_same_namespace,
        "HTTPRouteMatching" => http::matching,
        "HTTPRouteHeaderMatching" => http::header_matching,
        "HTTPRouteQueryParamMatching" => http::query_param_matching,
        "HTTPRouteMethodMatching" => http::method_matching,
        "HTTPRouteExactPathMatching" => http::exact_path_matching,
        "HTTPRouteCrossNamespace" => http::cross_namespace,
        "HTTPRouteInvalidCrossNamespaceParentRef" => http::invalid_cross_namespace_parent_ref,
        "HTTPRouteInvalidParentRefNotMatchingSectionName" => http::invalid_parent_ref_not_matching_section_name,
        "HTTPRouteInvalidCrossNamespaceBackendRef" => http::invalid_cross_namespace_backend_ref,
        "HTTPRouteInvalidBackendRefUnknownKind" => http::invalid_backend_ref_unknown_kind,
        "HTTPRouteInvalidNonExistentBackendRef" => http::invalid_non_existent_backend_ref,
        "HTTPRouteInvalidReferenceGrant" => http::invalid_reference_grant,
        "HTTPRouteReferenceGrant" => http::reference_grant,
        "HTTPRouteHostnameIntersection" => http::hostname_intersection,
        "HTTPRouteListenerHostnameMatching" => http::listener_hostname_matching,
        "HTTPRouteRequestHeaderModifier" => filters::request_header_modifier,
        "HTTPRouteResponseHeaderModifier" => filters::response_header_modifier,
        "HTTPRouteRedirectHostAndStatus" => filters::redirect_host_and_status,
        "HTTPRouteRedirectPath" => filters::redirect_path,
        "HTTPRouteRedirectPort" => filters::redirect_port,
        "HTTPRouteRedirectScheme" => filters::redirect_scheme,
        "HTTPRoute303Redirect" => |c| filters::redirect_status(c, 303, "/see-other"),
        "HTTPRoute307Redirect" => |c| filters::redirect_status(c, 307, "/temporary"),
        "HTTPRoute308Redirect" => |c| filters::redirect_status(c, 308, "/permanent"),
        "HTTPRouteRewriteHost" => filters::rewrite_host,
        "HTTPRouteRewritePath" => filters::rewrite_path,
        "HTTPRouteMatchingAcrossRoutes" => filters::matching_across_routes,
        "HTTPRoutePathMatchOrder" => filters::path_match_order,
        "HTTPRouteWeight" => filters::weight,
        "GatewaySecretMissingReferenceGrant" => gateway::secret_missing_reference_grant,
        "GatewaySecretInvalidReferenceGrant" => gateway::secret_invalid_reference_grant,
        "GatewaySecretReferenceGrantAllInNamespace" => gateway::secret_reference_grant_all_in_namespace,
        "GatewaySecretReferenceGrantSpecific" => gateway::secret_reference_grant_specific,
        "GatewayInvalidRouteKind" => gateway::invalid_route_kind,
        "GatewayObservedGenerationBump" => gateway::gateway_observed_generation_bump,
        "HTTPRouteObservedGenerationBump" => gateway::httproute_observed_generation_bump,
        "GatewayWithAttachedRoutes" => gateway::with_attached_routes,
        "GatewayWithAttachedRoutesWithPort8080" => gateway::with_attached_routes_port_8080,
        "HTTPRouteDisallowedKind" => gateway::disallowed_kind,
        "HTTPRoutePartiallyInvalidViaInvalidReferenceGrant" => more::partially_invalid_via_invalid_reference_grant,
        "HTTPRouteNoBackendRefs" => more::no_backend_refs,
        "HTTPRouteMultipleGateways" => more::multiple_gateways,
        "GatewayInvalidTLSConfiguration" => more::invalid_tls_configuration,
        "GatewayListenerUnsupportedProtocol" => more::listener_unsupported_protocol,
        "GatewayClassObservedGenerationBump" => more::gatewayclass_observed_generation_bump,
        "GatewayInvalidParametersRef" => more::invalid_parameters_ref,
        "HTTPRouteHTTPSListener" => more::https_listener,
        "HTTPRouteServiceTypes" => more::service_types,
        "GatewayModifyListeners" => more::modify_listeners,
        "TLSRouteInvalidNoMatchingListener" => tls::invalid_no_matching_listener,
        "TLSRouteInvalidNoMatchingListenerHostname" => tls::invalid_no_matching_listener_hostname,
        "TLSRouteInvalidReferenceGrant" => tls::invalid_reference_grant,
        "TLSRouteListenerPassthroughSupportedKinds" => tls::listener_passthrough_supported_kinds,
        "TLSRouteListenerTerminateNotSupported" => tls::listener_terminate_not_supported,
        "TLSRouteSimpleSameNamespace" => tls_traffic::simple_same_namespace,
        "TLSRouteHostnameIntersection" => tls_traffic::hostname_intersection,
        "TLSRouteInvalidBackendRefNonexistent" => tls_traffic::invalid_backend_ref_nonexistent,
        "TLSRouteInvalidBackendRefUnknownKind" => tls_traffic::invalid_backend_ref_unknown_kind,
        "HTTPRouteTimeoutRequest" => |c| http_ext::timeout(c, "request-timeout", "request", "request-timeout"),
        "HTTPRouteTimeoutBackendRequest" => |c| http_ext::timeout(c, "backend-request-timeout", "backendRequest", "backend-timeout"),
        "HTTPRouteBackendRequestHeaderModifier" => http_ext::backend_request_header_modifier,
        "HTTPRouteRequestHeaderModifierBackendWeights" => http_ext::request_header_modifier_backend_weights,
        "HTTPRouteListenerPortMatching" => http_ext::listener_port_matching,
        "HTTPRouteInvalidParentRefNotMatchingListenerPort" => http_ext::invalid_parent_ref_not_matching_listener_port,
        "HTTPRouteInvalidParentRefSectionNameNotMatchingPort" => http_ext::invalid_parent_ref_section_name_not_matching_port,
        "HTTPRouteRedirectPortAndScheme" => gateway_ext::redirect_port_and_scheme,
        "GatewayHTTPListenerIsolation" => gateway_ext::http_listener_isolation,
        "GatewayStaticAddresses" => gateway_ext::static_addresses,
        "TLSRouteListenerTerminateSupportedKinds" => tls_traffic::listener_terminate_supported_kinds,
        "TLSRouteListenerMixedTerminationNotSupported" => tls_traffic::listener_mixed_termination_not_supported,
        "TLSRouteTerminateSimpleSameNamespace" => tls_traffic::terminate_simple_same_namespace,
        "GRPCExactMethodMatching" => grpc::exact_method_matching,
        "GRPCRouteHeaderMatching" => grpc::header_matching,
        "GRPCRouteListenerHostnameMatching" => grpc::listener_hostname_matching,
        "GRPCRouteWeight" => grpc::weight,
        "HTTPRouteNamedRule" => http::named_rule,
        "HTTPRouteCORS" => cors::cors,
        "HTTPRouteRetry" => retry::retry,
        "HTTPRouteBackendProtocolH2C" => http_ext::backend_protocol_h2c,
        "HTTPRouteBackendProtocolWebSocket" => http_ext::backend_protocol_websocket,
        "GRPCRouteNamedRule" => grpc::named_rule,
        "GatewayFrontendClientCertificateValidation" => mtls::validation,
        "GatewayFrontendClientCertificateValidationInsecureFallback" => mtls::insecure_fallback,
        "GatewayFrontendInvalidDefaultClientCertificateValidation" => mtls::invalid_default,
        "GatewayInvalidFrontendClientCertificateValidation" => mtls::invalid_per_port,
        "BackendTLSPolicy" => backendtls::normative,
        "BackendTLSPolicyConflictResolution" => backendtls::conflict_resolution,
        "BackendTLSPolicyInvalidCACertificateRef" => |c| backendtls::invalid_ca(c, false),
        "BackendTLSPolicyInvalidKind" => |c| backendtls::invalid_ca(c, true),
        "BackendTLSPolicyObservedGenerationBump" => backendtls::observed_generation_bump,
        "GatewayTLSBackendClientCertificate" => backendtls::client_certificate,
        "GatewayInvalidTLSBackendConfiguration" => backendtls::invalid_backend_configuration,
        "ListenerSetDefaultNotAllowed" => |c| listenerset::not_allowed(c, ""),
        "ListenerSetAllowedNamespaceNone" => |c| listenerset::not_allowed(c, "{from: None}"),
        "ListenerSetAllowedNamespaceSame" => |c| listenerset::allowed_namespaces(c, false),
        "ListenerSetAllowedNamespaceSelector" => |c| listenerset::allowed_namespaces(c, true),
        "ListenerSetProtocolConflict" => |c| listenerset::conflicts(c, true),
        "ListenerSetHostnameConflict" => |c| listenerset::conflicts(c, false),
        "ListenerSetHTTPRouting" => listenerset::http_routing,
        "ListenerSetAllowedRoutesNamespaces" => listenerset::allowed_routes_namespaces,
        "ListenerSetAllowedRoutesSupportedKinds" => listenerset::allowed_routes_supported_kinds,
        "ListenerSetReferenceGrant" => listenerset::reference_grant,
        "ListenerSetGatewayParentSectionNameNotFound" => listenerset::gateway_parent_section_not_found,
        "ListenerSetDualParentRefIndependence" => listenerset::dual_parent_independence,
        "ListenerSetRouteStatusScopedToParentRef" => listenerset::route_status_scoped,
    ]
}

/// Scenarios beyond upstream's tests (behaviour the Gateway API has no feature name for yet):
/// always run, never in the upstream-format report.
fn portico_scenarios() -> Vec<(&'static str, Scenario)> {
    scenarios!["PorticoCookieSessionPersistence" => sticky::session_persistence]
}

/// Why a test upstream has for a claimed feature has no scenario here yet.
fn not_written(_name: &str) -> String {
    "not run: no scenario written yet".into()
}

async fn start() -> Ctx {
    let world = world::World::start("127.0.40.1-127.0.40.60", OFFSET, &[], &[]).await;
    let mut objects = vec![json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": {"name": base::CLASS},
        "spec": {"controllerName": "portico.dev/haproxy", "parametersRef": {"group": "portico.dev", "kind": "HAProxyParameters", "name": "e2e", "namespace": "default"}}})];
    objects.extend(base::manifests());
    for object in &objects {
        portico_sandbox::apply(&world.client, object).await.unwrap_or_else(|e| panic!("base manifest {}: {e}", object["metadata"]["name"]));
    }
    let mut addresses = BTreeMap::new();
    for gw in base::GATEWAYS {
        addresses.insert(gw.to_string(), world.programmed(base::INFRA, gw).await);
    }
    let ctx = Ctx { world, addresses, offset: OFFSET };
    wait_backends(&ctx).await;
    ctx
}

/// Every echo Pod of the base is a ready endpoint.
async fn wait_backends(c: &Ctx) {
    let slices: kube::Api<k8s_openapi::api::discovery::v1::EndpointSlice> = kube::Api::all(c.world.client.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed = slices.list(&Default::default()).await.expect("list EndpointSlices");
        let ready: BTreeSet<String> = listed
            .items
            .iter()
            .flat_map(|s| &s.endpoints)
            .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) == Some(true))
            .filter_map(|e| e.target_ref.as_ref().and_then(|t| t.name.clone()))
            .collect();
        if ready.len() >= base::echo_pods() {
            return;
        }
        assert!(Instant::now() < deadline, "only {} of {} echo Pods became ready endpoints: {ready:?}", ready.len(), base::echo_pods());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The class's `status.supportedFeatures` as Portico wrote it (names; objects or strings).
async fn claimed(c: &Ctx) -> BTreeSet<String> {
    let mut last = Value::Null;
    for _ in 0..100 {
        let class = c.get("gateway.networking.k8s.io/v1", "GatewayClass", "", base::CLASS).await.unwrap_or(Value::Null);
        let names: BTreeSet<String> = class["status"]["supportedFeatures"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["name"].as_str().or(f.as_str()).map(str::to_string))
            .collect();
        if !names.is_empty() {
            return names;
        }
        last = class["status"].clone();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("GatewayClass {} never published supportedFeatures: {last}", base::CLASS);
}

/// HAProxy processes running this world's configuration, as `(pid, parent)`.
fn haproxy_processes(state_dir: &std::path::Path) -> Vec<(u32, u32)> {
    let config = state_dir.join("haproxy/haproxy.cfg").to_string_lossy().to_string();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).map(|b| String::from_utf8_lossy(&b).replace('\0', " ")).unwrap_or_default();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let parent = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)).and_then(|p| p.parse().ok()).unwrap_or(0);
        if cmdline.starts_with("haproxy") && cmdline.contains(&config) {
            out.push((pid, parent));
        }
    }
    out.sort_unstable();
    out
}

/// HAProxy master processes (daemons, parent 1) running this world's configuration. There
/// should be one; more means an older master still holds the listeners with an old configuration.
fn haproxy_masters(state_dir: &std::path::Path) -> Vec<u32> {
    haproxy_processes(state_dir).into_iter().filter(|(_, parent)| *parent == 1).map(|(pid, _)| pid).collect()
}

/// When process `pid` started, in seconds since the epoch (from /proc, assuming 100 ticks/s).
fn started_at(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ticks: f64 = stat.rsplit_once(')')?.1.split_whitespace().nth(19)?.parse().ok()?;
    let boot: f64 = std::fs::read_to_string("/proc/stat").ok()?.lines().find_map(|l| l.strip_prefix("btime ").map(str::trim).and_then(|v| v.parse().ok()))?;
    Some(boot + ticks / 100.0)
}

/// What HAProxy looked like when a traffic expectation failed: several masters, or every
/// process with its start time relative to the last write of haproxy.cfg (which held the
/// expected configuration when the failure was recorded: see `failed-<name>.cfg`).
fn haproxy_state(c: &Ctx) -> Option<String> {
    let masters = haproxy_masters(&c.world.state_dir);
    if masters.len() > 1 {
        return Some(format!(
            "[HAProxy: {} master processes run this class's configuration {masters:?}, the pid file names {:?}: an older master still listens on the Gateway addresses (SO_REUSEPORT) with an older configuration]",
            masters.len(),
            c.world.haproxy_pid()
        ));
    }
    let written = c.world.haproxy_config_modified()?.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64();
    let processes: Vec<String> = haproxy_processes(&c.world.state_dir)
        .into_iter()
        .map(|(pid, parent)| {
            let role = if parent == 1 { "master" } else { "worker" };
            let age = started_at(&pid.to_string()).map(|t| format!("{:+.1} s", t - written)).unwrap_or_default();
            format!("{role} {pid} started {age}")
        })
        .collect();
    Some(format!(
        "[HAProxy: haproxy.cfg (last written {:.1} s before the failure) has the expected routes; processes relative to that write: {}]",
        now() - written,
        processes.join(", ")
    ))
}

fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// End every HAProxy master this world started (the World itself ends the one in its pid file).
fn stop_haproxy(state_dir: &std::path::Path) {
    for pid in haproxy_masters(state_dir) {
        let _ = std::process::Command::new("kill").arg(pid.to_string()).status();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn conformance() {
    let started = Instant::now();
    let ctx = start().await;
    let claimed = claimed(&ctx).await;
    eprintln!("conformance: world ready in {:?}; class claims {claimed:?}", started.elapsed());
    let required = report::required(&claimed);
    let only: Option<BTreeSet<String>> = std::env::var("PORTICO_CONFORMANCE_RUN").ok().map(|v| v.split(',').map(str::to_string).collect());
    let mut outcomes: BTreeMap<&'static str, Outcome> = BTreeMap::new();
    for (name, scenario) in all_scenarios() {
        if !required.iter().any(|(_, n, _)| *n == name) || only.as_ref().is_some_and(|o| !o.contains(name)) {
            continue;
        }
        let t = Instant::now();
        let outcome = match tokio::time::timeout(Duration::from_secs(60), scenario(&ctx)).await {
            Ok(Ok(())) => Outcome::Passed,
            Ok(Err(why)) => Outcome::Failed(why),
            Err(_) => Outcome::Failed("timed out after 60 s".into()),
        };
        let outcome = match outcome {
            Outcome::Failed(why) => {
                // What HAProxy ran when the scenario failed, for the reason in the report.
                let _ = std::fs::copy(ctx.world.state_dir.join("haproxy/haproxy.cfg"), ctx.world.state_dir.join(format!("failed-{name}.cfg")));
                // Only traffic can be explained by HAProxy's processes.
                Outcome::Failed(match haproxy_state(&ctx).filter(|_| why.contains(" via ")) {
                    Some(state) => format!("{why} {state}"),
                    None => why,
                })
            }
            passed => passed,
        };
        eprintln!("conformance: {name}: {outcome:?} ({:?})", t.elapsed());
        outcomes.insert(name, outcome);
    }
    let mut extra_failures = Vec::new();
    for (name, scenario) in portico_scenarios() {
        if only.as_ref().is_some_and(|o| !o.contains(name)) {
            continue;
        }
        let outcome = tokio::time::timeout(Duration::from_secs(60), scenario(&ctx)).await.unwrap_or_else(|_| Err("timed out after 60 s".into()));
        eprintln!("conformance: {name} (beyond upstream): {outcome:?}");
        if let Err(why) = outcome {
            extra_failures.push(format!("{name}: {why}"));
        }
    }
    let notes: BTreeMap<&'static str, String> = required.iter().filter(|(_, n, _)| !outcomes.contains_key(n)).map(|(_, n, _)| (*n, not_written(n))).collect();
    // Stop the world (operator, HAProxy, Pods) before any assertion can unwind.
    let state_dir = ctx.world.state_dir.clone();
    drop(ctx);
    stop_haproxy(&state_dir);
    let report = report::report(&claimed, &outcomes, &notes);
    if let Ok(path) = std::env::var("PORTICO_CONFORMANCE_REPORT") {
        let text = serde_yaml::to_string(&report).expect("report as YAML");
        std::fs::write(
            &path,
            format!("# Generated by `PORTICO_CONFORMANCE_REPORT=$PWD/docs/conformance/portico-haproxy.yaml cargo test -p portico-cli --test conformance`; see docs/conformance/README.md.\n{text}"),
        )
        .expect("write the report");
    }
    let mut failed: Vec<String> = outcomes.iter().filter_map(|(n, o)| if let Outcome::Failed(why) = o { Some(format!("{n}: {why}")) } else { None }).collect();
    failed.extend(extra_failures);
    let passed = outcomes.values().filter(|o| matches!(o, Outcome::Passed)).count();
    eprintln!("conformance: {passed} passed, {} failed, {} not written, in {:?}", failed.len(), notes.len(), started.elapsed());
    assert!(failed.is_empty(), "{} conformance scenarios of claimed features failed:\n{}", failed.len(), failed.join("\n"));
}
