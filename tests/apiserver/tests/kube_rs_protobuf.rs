//! A kube-rs client asking for protobuf: kube 4.2 speaks JSON only, so these requests go through
//! `Client::send`/`request_stream` with an `Accept` header and decode with `k8s-pb`'s prost types.

mod common;

use futures_util::AsyncReadExt as _;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_pb::api::core::v1 as pb;
use kube::api::{Api, PostParams};
use prost::Message as _;

const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

/// The object inside `k8s\0` + `runtime.Unknown`, with the envelope's apiVersion and kind.
fn unwrap_envelope(body: &[u8]) -> (String, String, Vec<u8>) {
    let unknown = k8s_pb::apimachinery::pkg::runtime::Unknown::decode(body.strip_prefix(b"k8s\0").expect("k8s\\0 prefix")).expect("runtime.Unknown");
    let type_meta = unknown.type_meta.unwrap_or_default();
    (type_meta.api_version.unwrap_or_default(), type_meta.kind.unwrap_or_default(), unknown.raw.unwrap_or_default())
}

async fn create_config_maps(client: &kube::Client, names: &[&str]) {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for name in names {
        let cm: ConfigMap = serde_json::from_value(serde_json::json!({"metadata": {"name": name}, "data": {"k": format!("v-{name}")}})).unwrap();
        api.create(&PostParams::default(), &cm).await.unwrap();
    }
}

fn get(path: &str, accept: &str) -> http::Request<Vec<u8>> {
    http::Request::get(path).header(http::header::ACCEPT, accept).body(Vec::new()).unwrap()
}

#[tokio::test]
async fn list_in_protobuf_decodes_with_k8s_pb() {
    let (server, client) = common::start().await;
    create_config_maps(&client, &["a", "b", "c"]).await;
    let response = client.send(get("/api/v1/namespaces/default/configmaps?limit=2", &format!("{PROTOBUF}, application/json")).map(Into::into)).await.unwrap();
    assert_eq!(response.headers()[http::header::CONTENT_TYPE], PROTOBUF);
    let body = response.into_body().collect_bytes().await.unwrap();
    let (api_version, kind, raw) = unwrap_envelope(&body);
    assert_eq!((api_version.as_str(), kind.as_str()), ("v1", "ConfigMapList"));
    let list = pb::ConfigMapList::decode(raw.as_slice()).unwrap();
    let names: Vec<_> = list.items.iter().map(|cm| cm.metadata.as_ref().and_then(|m| m.name.clone()).unwrap_or_default()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(list.items[1].data.get("k").map(String::as_str), Some("v-b"));
    let meta = list.metadata.unwrap();
    assert_eq!(meta.remaining_item_count, Some(1));
    assert!(meta.r#continue.is_some_and(|c| !c.is_empty()));
    // JSON preferred by weight: JSON it is.
    let json = client.send(get("/api/v1/namespaces/default/configmaps", &format!("{PROTOBUF};q=0.5, application/json")).map(Into::into)).await.unwrap();
    assert_eq!(json.headers()[http::header::CONTENT_TYPE], "application/json");
    assert_eq!(server.media_counts().get("response application/vnd.kubernetes.protobuf"), Some(&1));
}

#[tokio::test]
async fn watch_in_protobuf_streams_length_prefixed_frames() {
    let (_server, client) = common::start().await;
    create_config_maps(&client, &["before"]).await;
    let mut stream = client.request_stream(get("/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=5", PROTOBUF)).await.unwrap();
    let writer = client.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        create_config_maps(&writer, &["after"]).await;
        let api: Api<ConfigMap> = Api::namespaced(writer, "default");
        api.delete("before", &Default::default()).await.unwrap();
    });
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let mut length = [0u8; 4];
        stream.read_exact(&mut length).await.expect("a frame");
        let mut frame = vec![0u8; u32::from_be_bytes(length) as usize];
        stream.read_exact(&mut frame).await.unwrap();
        let event = k8s_pb::apimachinery::pkg::apis::meta::v1::WatchEvent::decode(frame.as_slice()).expect("a bare WatchEvent");
        let (api_version, kind, raw) = unwrap_envelope(&event.object.and_then(|o| o.raw).unwrap());
        assert_eq!((api_version.as_str(), kind.as_str()), ("v1", "ConfigMap"));
        let cm = pb::ConfigMap::decode(raw.as_slice()).unwrap();
        seen.push((event.r#type.unwrap_or_default(), cm.metadata.and_then(|m| m.name).unwrap_or_default()));
    }
    let expected: Vec<(String, String)> =
        [("ADDED", "before"), ("ADDED", "after"), ("DELETED", "before")].iter().map(|(t, n)| (t.to_string(), n.to_string())).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn custom_resources_refuse_protobuf_as_kube_apiserver_does() {
    let (_server, client) = common::start().await;
    common::install_gateway_api(&client).await;
    let path = "/apis/gateway.networking.k8s.io/v1/gatewayclasses";
    let refused = client.send(get(path, PROTOBUF).map(Into::into)).await.unwrap();
    assert_eq!(refused.status(), 406);
    let status: serde_json::Value = serde_json::from_slice(&refused.into_body().collect_bytes().await.unwrap()).unwrap();
    assert_eq!(status["reason"], "NotAcceptable");
    assert_eq!(status["message"], "only the following media types are accepted: application/json, application/yaml");
    let fallback = client.send(get(path, &format!("{PROTOBUF}, application/json")).map(Into::into)).await.unwrap();
    assert_eq!((fallback.status().as_u16(), fallback.headers()[http::header::CONTENT_TYPE].to_str().unwrap()), (200, "application/json"));
    let post = http::Request::post(path).header(http::header::CONTENT_TYPE, PROTOBUF).body(b"k8s\0".to_vec()).unwrap();
    let unsupported = client.send(post.map(Into::into)).await.unwrap();
    assert_eq!(unsupported.status(), 415);
    let status: serde_json::Value = serde_json::from_slice(&unsupported.into_body().collect_bytes().await.unwrap()).unwrap();
    assert_eq!((status["reason"].as_str(), status["code"].as_i64()), (Some("UnsupportedMediaType"), Some(415)));
    assert_eq!(status["message"], "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml");
}
