//! The fake over real HTTP, the way the Compute client talks to it.

mod support;

use portico_computefake::{ComputeFake, Fault};
use serde_json::{Value, json};
use support::{PROJECT, api, delete, get, patch, post, put, send};

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

async fn insert_url_map(fake: &ComputeFake, name: &str) -> Value {
    let reply = post(fake, &api("global/urlMaps"), json!({"name": name})).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body
}

#[tokio::test]
async fn insert_get_list_and_page() {
    let fake = ComputeFake::start().await;
    let operation = insert_url_map(&fake, "ptg-a-1").await;
    assert_eq!(operation["kind"], "compute#operation");
    assert_eq!(operation["operationType"], "insert");
    assert_eq!(operation["status"], "DONE");
    assert_eq!(operation["user"], "fake@portico.dev");
    let self_link = format!("{}/compute/v1/projects/p/global/urlMaps/ptg-a-1", fake.endpoint());
    assert_eq!(operation["targetLink"], json!(self_link));
    assert!(text(&operation["selfLink"]).contains("/compute/v1/projects/p/global/operations/operation-"));
    for name in ["ptg-a-2", "ptg-b-1"] {
        insert_url_map(&fake, name).await;
    }

    let map = get(&fake, &api("global/urlMaps/ptg-a-1")).await;
    assert_eq!(map.status, 200);
    assert_eq!(map.header("content-type"), Some("application/json"));
    assert_eq!(map.body["kind"], "compute#urlMap");
    assert_eq!(map.body["selfLink"], json!(self_link));
    assert_eq!(map.body["id"], operation["targetId"]);
    assert!(text(&map.body["id"]).parse::<u64>().is_ok());
    assert!(map.body["creationTimestamp"].is_string() && map.body["fingerprint"].is_string());

    let first = get(&fake, &api("global/urlMaps?maxResults=2")).await;
    assert_eq!(first.body["kind"], "compute#urlMapList");
    let names = |reply: &support::Reply| -> Vec<String> {
        reply.body["items"].as_array().map(|items| items.iter().map(|item| text(&item["name"])).collect()).unwrap_or_default()
    };
    assert_eq!(names(&first), ["ptg-a-1", "ptg-a-2"]);
    let token = text(&first.body["nextPageToken"]);
    let second = get(&fake, &api(&format!("global/urlMaps?maxResults=2&pageToken={token}"))).await;
    assert_eq!(names(&second), ["ptg-b-1"]);
    assert!(second.body.get("nextPageToken").is_none());

    let filtered = get(&fake, &api("global/urlMaps?filter=name%20eq%20ptg-a.*")).await;
    assert_eq!(names(&filtered), ["ptg-a-1", "ptg-a-2"]);
    let quoted = get(&fake, &api("global/urlMaps?filter=name+eq+%22ptg-b.*%22")).await;
    assert_eq!(names(&quoted), ["ptg-b-1"]);
    let empty = get(&fake, &api("regions/r1/urlMaps")).await;
    assert_eq!(empty.status, 200);
    assert!(empty.body.get("items").is_none(), "GCP leaves items out of empty lists");

    let calls = fake.calls();
    assert_eq!(calls.get("urlMaps.insert"), Some(&3));
    assert_eq!(calls.get("urlMaps.list"), Some(&5));
    assert_eq!(calls.get("urlMaps.get"), Some(&1));
    assert_eq!(fake.mutating_calls(), 3);
    assert_eq!(fake.resources("urlMaps").len(), 3);
    fake.reset_calls();
    assert!(fake.calls().is_empty() && fake.mutating_calls() == 0);
}

#[tokio::test]
async fn request_id_replay_returns_the_same_operation() {
    let fake = ComputeFake::start().await;
    let path = api("global/urlMaps?requestId=6f1c2a9e-0000-4000-8000-000000000001");
    let first = post(&fake, &path, json!({"name": "m"})).await;
    let again = post(&fake, &path, json!({"name": "m"})).await;
    assert_eq!(again.status, 200, "a replay is not a conflict: {:?}", again.body);
    assert_eq!(first.body["name"], again.body["name"]);
    assert_eq!(first.body["id"], again.body["id"]);
    assert_eq!(fake.resources("urlMaps").len(), 1);
    assert_eq!(fake.call_count("urlMaps.insert"), 2);

    let fresh = post(&fake, &api("global/urlMaps?requestId=another"), json!({"name": "m"})).await;
    assert_eq!(fresh.status, 409);
}

#[tokio::test]
async fn duplicate_names_conflict_and_bad_names_are_invalid() {
    let fake = ComputeFake::start().await;
    insert_url_map(&fake, "m").await;
    let duplicate = post(&fake, &api("global/urlMaps"), json!({"name": "m"})).await;
    assert_eq!(duplicate.status, 409);
    assert_eq!(duplicate.reason(), "alreadyExists");
    assert_eq!(duplicate.body["error"]["status"], "ALREADY_EXISTS");
    assert_eq!(duplicate.message(), "The resource 'projects/p/global/urlMaps/m' already exists");

    for body in [json!({"name": "Bad_Name"}), json!({"description": "no name"}), json!({"name": 7})] {
        let rejected = post(&fake, &api("global/urlMaps"), body).await;
        assert_eq!((rejected.status, rejected.reason()), (400, "invalid"));
    }
    let malformed = send(&fake, "POST", &api("global/urlMaps"), Some("{not json".into())).await;
    assert_eq!((malformed.status, malformed.reason()), (400, "invalid"));
}

#[tokio::test]
async fn fingerprints_guard_patch_and_update() {
    let fake = ComputeFake::start().await;
    insert_url_map(&fake, "m").await;
    let stale = get(&fake, &api("global/urlMaps/m")).await.body;

    let patched = patch(&fake, &api("global/urlMaps/m"), json!({"description": "one", "fingerprint": stale["fingerprint"]})).await;
    assert_eq!(patched.body["operationType"], "patch");
    let current = get(&fake, &api("global/urlMaps/m")).await.body;
    assert_eq!(current["description"], "one");
    assert_ne!(current["fingerprint"], stale["fingerprint"]);
    assert_eq!(current["id"], stale["id"]);

    let conflict = patch(&fake, &api("global/urlMaps/m"), json!({"description": "two", "fingerprint": stale["fingerprint"]})).await;
    assert_eq!((conflict.status, conflict.reason()), (412, "conditionNotMet"));
    assert_eq!(conflict.body["error"]["status"], "FAILED_PRECONDITION");
    let mut replacement = current.clone();
    replacement["fingerprint"] = stale["fingerprint"].clone();
    assert_eq!(put(&fake, &api("global/urlMaps/m"), replacement).await.status, 412);

    let unguarded = put(&fake, &api("global/urlMaps/m"), json!({"name": "m", "defaultUrlRedirect": {"httpsRedirect": true}})).await;
    assert_eq!(unguarded.body["operationType"], "update");
    let updated = get(&fake, &api("global/urlMaps/m")).await.body;
    assert!(updated.get("description").is_none(), "update replaces the whole resource");
    assert_eq!(updated["creationTimestamp"], stale["creationTimestamp"]);

    post(&fake, &api("global/targetHttpProxies"), json!({"name": "t", "urlMap": "global/urlMaps/m"})).await;
    let without = patch(&fake, &api("global/targetHttpProxies/t"), json!({"description": "x"})).await;
    assert_eq!(without.status, 412, "target proxies require the fingerprint");
}

#[tokio::test]
async fn missing_things_are_not_found() {
    let fake = ComputeFake::start().await;
    let missing = get(&fake, &api("global/backendServices/nope")).await;
    assert_eq!((missing.status, missing.reason()), (404, "notFound"));
    assert_eq!(missing.body["error"]["status"], "NOT_FOUND");
    assert_eq!(delete(&fake, &api("global/backendServices/nope")).await.status, 404);
    assert_eq!(get(&fake, "/compute/v1/nowhere").await.status, 404);
    assert_eq!(get(&fake, &api("global/operations/operation-nope")).await.status, 404);
    let dangling = post(&fake, &api("global/targetHttpProxies"), json!({"name": "t", "urlMap": "global/urlMaps/nope"})).await;
    assert_eq!(dangling.status, 404);
    assert_eq!(dangling.message(), "The resource 'projects/p/global/urlMaps/nope' was not found");
    let unknown_verb = post(&fake, &api("global/urlMaps/m/frobnicate"), json!({})).await;
    assert_eq!((unknown_verb.status, unknown_verb.reason()), (400, "invalid"));
}

#[tokio::test]
async fn referenced_resources_cannot_be_deleted() {
    let fake = ComputeFake::start().await;
    let service = post(&fake, &api("global/backendServices"), json!({"name": "svc", "protocol": "HTTP"})).await.body;
    let service_link = text(&service["targetLink"]);
    post(&fake, &api("global/urlMaps"), json!({"name": "m", "defaultService": service_link})).await;
    post(&fake, &api("global/targetHttpProxies"), json!({"name": "t", "urlMap": "projects/p/global/urlMaps/m"})).await;

    let refused = delete(&fake, &api("global/urlMaps/m")).await;
    assert_eq!((refused.status, refused.reason()), (400, "resourceInUseByAnotherResource"));
    assert_eq!(refused.message(), "The urlMap resource 'projects/p/global/urlMaps/m' is already being used by 'projects/p/global/targetHttpProxies/t'");
    assert_eq!(delete(&fake, &api("global/backendServices/svc")).await.status, 400);

    assert_eq!(delete(&fake, &api("global/targetHttpProxies/t")).await.body["operationType"], "delete");
    assert_eq!(delete(&fake, &api("global/urlMaps/m")).await.status, 200);
    assert_eq!(delete(&fake, &api("global/backendServices/svc")).await.status, 200);
    assert!(fake.resources("urlMaps").is_empty());
}

#[tokio::test]
async fn operations_stay_pending_for_the_configured_polls() {
    let fake = ComputeFake::start().await;
    fake.set_pending_polls(2);
    let operation = post(&fake, &api("regions/r1/healthChecks"), json!({"name": "hc", "type": "HTTP"})).await.body;
    assert_eq!(operation["status"], "PENDING");
    assert_eq!(operation["region"], json!(format!("{}/compute/v1/projects/p/regions/r1", fake.endpoint())));
    assert!(fake.get("regions/r1", "healthChecks", "hc").is_some(), "changes apply at once");
    let path = api(&format!("regions/r1/operations/{}", text(&operation["name"])));
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(text(&get(&fake, &path).await.body["status"]));
    }
    assert_eq!(statuses, ["RUNNING", "RUNNING", "DONE"]);
    assert_eq!(fake.call_count("regionOperations.get"), 3);

    let second = post(&fake, &api("global/healthChecks"), json!({"name": "hc"})).await.body;
    let waited = post(&fake, &api(&format!("global/operations/{}/wait", text(&second["name"]))), json!({})).await;
    assert_eq!(waited.body["status"], "DONE");
    assert_eq!(fake.call_count("globalOperations.wait"), 1);
    assert_eq!(fake.mutating_calls(), 2);

    fake.set_pending_polls_every(1, 2);
    let third = post(&fake, &api("global/healthChecks"), json!({"name": "hc-3"})).await.body;
    let fourth = post(&fake, &api("global/healthChecks"), json!({"name": "hc-4"})).await.body;
    assert_eq!((text(&third["status"]), text(&fourth["status"])), ("DONE".into(), "PENDING".into()));
}

#[tokio::test]
async fn injected_statuses_fail_once_then_succeed() {
    let fake = ComputeFake::start().await;
    fake.inject(Fault::status("urlMaps.insert", 429));
    fake.inject(Fault::Status { operation: "*".into(), status: 503, reason: "backendError".into(), times: 1 });

    let limited = post(&fake, &api("global/urlMaps"), json!({"name": "m"})).await;
    assert_eq!((limited.status, limited.reason()), (429, "rateLimitExceeded"));
    assert_eq!(limited.body["error"]["status"], "RESOURCE_EXHAUSTED");
    assert!(fake.resources("urlMaps").is_empty());
    let unavailable = get(&fake, &api("global/urlMaps")).await;
    assert_eq!((unavailable.status, unavailable.reason()), (503, "backendError"));
    assert_eq!(post(&fake, &api("global/urlMaps"), json!({"name": "m"})).await.status, 200);
    assert_eq!(fake.call_count("urlMaps.insert"), 2);
    assert_eq!(fake.resources("urlMaps").len(), 1);
}

#[tokio::test]
async fn operation_errors_leave_nothing_behind() {
    let fake = ComputeFake::start().await;
    fake.inject(Fault::operation_error("forwardingRules.insert", "QUOTA_EXCEEDED", "Quota 'FORWARDING_RULES' exceeded."));
    let operation = post(&fake, &api("global/forwardingRules?requestId=r-1"), json!({"name": "fr"})).await;
    assert_eq!(operation.status, 200);
    assert_eq!(operation.body["status"], "DONE");
    assert_eq!(operation.body["error"]["errors"][0]["code"], "QUOTA_EXCEEDED");
    assert_eq!(operation.body["httpErrorStatusCode"], 403);
    assert_eq!(get(&fake, &api("global/forwardingRules/fr")).await.status, 404);
    let replay = post(&fake, &api("global/forwardingRules?requestId=r-1"), json!({"name": "fr"})).await;
    assert_eq!(replay.body["name"], operation.body["name"], "the failed operation is replayed, not retried");
    assert!(fake.resources("forwardingRules").is_empty());
    assert_eq!(post(&fake, &api("global/forwardingRules"), json!({"name": "fr"})).await.body["status"], "DONE");
    assert_eq!(fake.resources("forwardingRules").len(), 1);
}

#[tokio::test]
async fn network_endpoints_attach_detach_and_list() {
    let fake = ComputeFake::start().await;
    let group = api("zones/z1/networkEndpointGroups/neg");
    let created = post(&fake, &api("zones/z1/networkEndpointGroups"), json!({"name": "neg", "defaultPort": 8080})).await.body;
    assert_eq!(created["zone"], json!(format!("{}/compute/v1/projects/p/zones/z1", fake.endpoint())));
    assert!(text(&created["selfLink"]).contains("/zones/z1/operations/"));
    let endpoints = json!({"networkEndpoints": [
        {"ipAddress": "10.0.0.1", "port": 8080, "instance": "vm-1"},
        {"ipAddress": "10.0.0.2", "port": 8080, "instance": "vm-2"},
        {"ipAddress": "10.0.0.1", "port": 8080, "instance": "vm-1"},
    ]});
    let attached = post(&fake, &format!("{group}/attachNetworkEndpoints"), endpoints).await;
    assert_eq!(attached.body["operationType"], "attachNetworkEndpoints");
    assert_eq!(get(&fake, &group).await.body["size"], 2);

    let listed = post(&fake, &format!("{group}/listNetworkEndpoints"), json!({})).await.body;
    assert_eq!(listed["kind"], "compute#networkEndpointGroupsListNetworkEndpoints");
    let items = listed["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["networkEndpoint"]["ipAddress"], "10.0.0.1");
    assert_eq!(items[0]["healths"], json!([]));
    let paged = post(&fake, &format!("{group}/listNetworkEndpoints?maxResults=1"), json!({})).await.body;
    assert!(paged["nextPageToken"].is_string());

    let detach = json!({"networkEndpoints": [{"ipAddress": "10.0.0.1", "port": 8080, "instance": "vm-1"}]});
    post(&fake, &format!("{group}/detachNetworkEndpoints"), detach).await;
    assert_eq!(get(&fake, &group).await.body["size"], 1);
    assert_eq!(fake.network_endpoints(PROJECT, "zones/z1", "neg"), [json!({"ipAddress": "10.0.0.2", "port": 8080, "instance": "vm-2"})]);
    assert_eq!(fake.call_count("networkEndpointGroups.listNetworkEndpoints"), 2);
    assert_eq!(fake.mutating_calls(), 3, "insert, attach and detach; listing is a read");
}

#[tokio::test]
async fn global_setters_live_outside_the_global_segment() {
    let fake = ComputeFake::start().await;
    insert_url_map(&fake, "first").await;
    insert_url_map(&fake, "second").await;
    post(&fake, &api("global/targetHttpProxies"), json!({"name": "t", "urlMap": "global/urlMaps/first"})).await;
    let target = "/compute/v1/projects/p/targetHttpProxies/t/setUrlMap";
    let operation = post(&fake, target, json!({"urlMap": "global/urlMaps/second"})).await.body;
    assert_eq!(operation["operationType"], "setUrlMap");
    assert!(text(&operation["selfLink"]).contains("/global/operations/"));
    assert_eq!(fake.get("global", "targetHttpProxies", "t").map(|proxy| proxy["urlMap"].clone()), Some(json!("global/urlMaps/second")));
    assert_eq!(delete(&fake, &api("global/urlMaps/first")).await.status, 200, "no longer referenced");
    assert_eq!(post(&fake, target, json!({"urlMap": "global/urlMaps/gone"})).await.status, 404);
    assert_eq!(fake.call_count("targetHttpProxies.setUrlMap"), 2);

    post(&fake, &api("global/sslCertificates"), json!({"name": "c", "certificate": "PEM", "privateKey": "KEY"})).await;
    post(&fake, &api("global/targetHttpsProxies"), json!({"name": "s", "urlMap": "global/urlMaps/second"})).await;
    let certificates = json!({"sslCertificates": ["projects/p/global/sslCertificates/c"]});
    let set = post(&fake, "/compute/v1/projects/p/targetHttpsProxies/s/setSslCertificates", certificates).await;
    assert_eq!(set.body["operationType"], "setSslCertificates");
    assert_eq!(delete(&fake, &api("global/sslCertificates/c")).await.reason(), "resourceInUseByAnotherResource");
}

#[tokio::test]
async fn certificates_never_show_their_private_key() {
    let fake = ComputeFake::start().await;
    let body = json!({"name": "c", "certificate": "PEM", "privateKey": "SECRET", "selfManaged": {"certificate": "PEM", "privateKey": "SECRET"}});
    post(&fake, &api("regions/r1/sslCertificates"), body).await;
    let certificate = get(&fake, &api("regions/r1/sslCertificates/c")).await.body;
    assert!(!certificate.to_string().contains("SECRET"));
    assert_eq!((certificate["type"].clone(), certificate["certificate"].clone()), (json!("SELF_MANAGED"), json!("PEM")));
    assert!(certificate["expireTime"].is_string());
    let listed = get(&fake, &api("regions/r1/sslCertificates")).await.body;
    assert!(!listed.to_string().contains("SECRET"));
}

#[tokio::test]
async fn addresses_forwarding_rules_and_labels() {
    let fake = ComputeFake::start().await;
    post(&fake, &api("global/addresses"), json!({"name": "ip"})).await;
    let address = get(&fake, &api("global/addresses/ip")).await.body;
    let ip = text(&address["address"]);
    assert!(ip.starts_with("34.120."), "{ip}");
    let internal = post(&fake, &api("regions/r1/addresses"), json!({"name": "ilb", "addressType": "INTERNAL"})).await;
    assert_eq!(internal.status, 200);
    assert!(text(&fake.get("regions/r1", "addresses", "ilb").expect("stored")["address"]).starts_with("10."));

    let rule = json!({"name": "fr", "IPAddress": address["selfLink"], "portRange": "443", "labels": {"team": "a"}});
    post(&fake, &api("global/forwardingRules"), rule).await;
    let stored = get(&fake, &api("global/forwardingRules/fr")).await.body;
    assert_eq!(text(&stored["IPAddress"]), ip);
    assert_eq!(stored["portRange"], "443-443");
    let labels_path = api("global/forwardingRules/fr/setLabels");
    let stale = post(&fake, &labels_path, json!({"labels": {"team": "b"}, "labelFingerprint": "AAAAAAAAAAA="})).await;
    assert_eq!(stale.status, 412);
    let fresh = json!({"labels": {"team": "b"}, "labelFingerprint": stored["labelFingerprint"]});
    assert_eq!(post(&fake, &labels_path, fresh).await.status, 200);
    let relabelled = get(&fake, &api("global/forwardingRules/fr")).await.body;
    assert_eq!(relabelled["labels"], json!({"team": "b"}));
    assert_ne!(relabelled["labelFingerprint"], stored["labelFingerprint"]);
    let by_label = get(&fake, &api("global/forwardingRules?filter=labels.team%20eq%20b")).await.body;
    assert_eq!(by_label["items"].as_array().map(Vec::len), Some(1));

    let allocated = post(&fake, &api("global/forwardingRules"), json!({"name": "fr-2"})).await;
    assert_eq!(allocated.status, 200);
    assert!(fake.get("global", "forwardingRules", "fr-2").is_some_and(|rule| rule["IPAddress"].is_string()));
}

#[tokio::test]
async fn url_maps_are_checked_as_gcp_checks_them() {
    let fake = ComputeFake::start().await;
    let duplicate_priorities = json!({"name": "m", "pathMatchers": [
        {"name": "pm", "routeRules": [{"priority": 5}, {"priority": 5}]}
    ]});
    let rejected = post(&fake, &api("global/urlMaps"), duplicate_priorities).await;
    assert_eq!((rejected.status, rejected.reason()), (400, "invalid"));
    assert!(rejected.message().contains("'5'") && rejected.message().contains("'pm'"), "{}", rejected.message());

    // Larger than axum's default body limit too: the fake must read it to answer like GCP.
    let huge = json!({"name": "big", "description": "x".repeat(3_000_000)});
    let too_big = post(&fake, &api("global/urlMaps"), huge).await;
    assert_eq!(too_big.status, 400);
    assert!(too_big.message().contains("URL map exceeds the size limit"));
    assert!(fake.resources("urlMaps").is_empty());
}

#[tokio::test]
async fn seeded_resources_and_aggregated_lists() {
    let fake = ComputeFake::start().await;
    fake.put_raw(PROJECT, "global", "backendServices", json!({"name": "foreign", "id": "123"}));
    fake.put_raw(PROJECT, "regions/r1", "backendServices", json!({"name": "regional"}));
    let seeded = get(&fake, &api("global/backendServices/foreign")).await.body;
    assert_eq!((seeded["id"].clone(), seeded["kind"].clone()), (json!("123"), json!("compute#backendService")));
    assert_eq!(seeded["timeoutSec"], 30);
    assert_eq!(fake.mutating_calls(), 0);

    let aggregated = get(&fake, &api("aggregated/backendServices")).await.body;
    assert_eq!(aggregated["kind"], "compute#backendServiceAggregatedList");
    assert_eq!(aggregated["items"]["global"]["backendServices"][0]["name"], "foreign");
    assert_eq!(aggregated["items"]["regions/r1"]["backendServices"][0]["name"], "regional");
    assert_eq!(fake.resources("backendServices").len(), 2);

    assert!(fake.delete_raw(PROJECT, "global", "backendServices", "foreign"));
    assert_eq!(get(&fake, &api("global/backendServices/foreign")).await.status, 404);
}
