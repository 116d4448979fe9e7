//! 10,000 objects written while 50 watchers follow them: write throughput, watch delivery,
//! list latency (JSON and protobuf, decoded as clients decode them) and memory. Run: `cargo bench -p portico-apiserver --bench apiserver_scale`.
//! The kube-rs clients run in the same process, so memory figures include them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchParams};
use kube::{Client, Config};
use portico_apiserver::{ApiServer, Options};

const OBJECTS: usize = 10_000;
const WATCHERS: usize = 50;
const WRITERS: usize = 16;

fn status_kib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
}

fn config_map(i: usize) -> ConfigMap {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("cm-{i:05}"), "labels": {"bench": "yes", "shard": (i % 10).to_string()}},
        "data": {"payload": "x".repeat(200)}
    }))
    .unwrap()
}

async fn start_watchers(client: &Client, received: &Arc<AtomicUsize>) {
    for _ in 0..WATCHERS {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        let mut stream = api.watch(&WatchParams::default().timeout(290), "0").await.expect("watch").boxed();
        let received = received.clone();
        tokio::spawn(async move {
            while let Some(event) = stream.next().await {
                if matches!(event, Ok(kube::api::WatchEvent::Added(_))) {
                    received.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
}

async fn write_all(client: &Client) -> Duration {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        tasks.push(tokio::spawn(async move {
            for i in (w..OBJECTS).step_by(WRITERS) {
                api.create(&PostParams::default(), &config_map(i)).await.expect("create");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed()
}

async fn list_latency(api: &Api<ConfigMap>, params: &ListParams, runs: usize) -> (Duration, usize) {
    let mut times = Vec::new();
    let mut count = 0;
    for _ in 0..runs {
        let start = Instant::now();
        count = api.list(params).await.expect("list").items.len();
        times.push(start.elapsed());
    }
    times.sort();
    (times[runs / 2], count)
}

/// One full list in `accept`, decoded as a client would (JSON: serde into k8s-openapi's types;
/// protobuf: prost into k8s-pb's); median time and the body's size.
async fn raw_list(client: &Client, accept: &str, runs: usize) -> (Duration, usize, usize) {
    use prost::Message as _;
    let mut times = Vec::new();
    let (mut bytes, mut items) = (0, 0);
    for _ in 0..runs {
        let start = Instant::now();
        let request = http::Request::get("/api/v1/namespaces/default/configmaps").header(http::header::ACCEPT, accept).body(Vec::new()).unwrap();
        let body = client.send(request.map(Into::into)).await.expect("list").into_body().collect_bytes().await.expect("body");
        items = if accept.starts_with("application/json") {
            serde_json::from_slice::<k8s_openapi::List<ConfigMap>>(&body).expect("JSON list").items.len()
        } else {
            let unknown = k8s_pb::apimachinery::pkg::runtime::Unknown::decode(&body[4..]).expect("envelope");
            k8s_pb::api::core::v1::ConfigMapList::decode(unknown.raw.unwrap_or_default().as_slice()).expect("protobuf list").items.len()
        };
        bytes = body.len();
        times.push(start.elapsed());
    }
    times.sort();
    (times[runs / 2], items, bytes)
}

fn report_formats(json: (Duration, usize, usize), protobuf: (Duration, usize, usize)) {
    let rate = |(time, items, _): (Duration, usize, usize)| items as f64 / time.as_secs_f64();
    for (name, figures) in [("JSON", json), ("protobuf", protobuf)] {
        let (time, items, bytes) = figures;
        println!(
            "  list all as {name} ({items} items, {:.1} MiB): median {:.1} ms, {:.0} items/s",
            bytes as f64 / 1048576.0,
            time.as_secs_f64() * 1e3,
            rate(figures)
        );
    }
    println!("  protobuf/JSON: {:.2}x the items/s, {:.2}x the bytes", rate(protobuf) / rate(json), protobuf.2 as f64 / json.2 as f64);
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let baseline_kib = status_kib("VmRSS:");
    let server = ApiServer::start(Options::default()).await.expect("server");
    let client = Client::try_from(Config::new(server.url().parse().unwrap())).unwrap();
    let received = Arc::new(AtomicUsize::new(0));
    start_watchers(&client, &received).await;
    let write_time = write_all(&client).await;
    let delivery_start = Instant::now();
    while received.load(Ordering::Relaxed) < OBJECTS * WATCHERS && delivery_start.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let delivered = received.load(Ordering::Relaxed);
    let delivery_lag = delivery_start.elapsed();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let (full, full_count) = list_latency(&api, &ListParams::default(), 9).await;
    let (page, page_count) = list_latency(&api, &ListParams::default().limit(500), 9).await;
    let (selected, selected_count) = list_latency(&api, &ListParams::default().labels("shard=3"), 9).await;
    let json = raw_list(&client, "application/json", 9).await;
    let protobuf = raw_list(&client, "application/vnd.kubernetes.protobuf", 9).await;
    println!("apiserver_scale: {OBJECTS} ConfigMaps (~200 B payload) created by {WRITERS} concurrent writers while {WATCHERS} watchers follow");
    println!("  writes: {:.0} creates/s ({:.2} s total)", OBJECTS as f64 / write_time.as_secs_f64(), write_time.as_secs_f64());
    println!("  watch delivery: {delivered} of {} events delivered; all in {:.2} s after the last write", OBJECTS * WATCHERS, delivery_lag.as_secs_f64());
    println!("  list all ({full_count} items): median {:.1} ms", full.as_secs_f64() * 1e3);
    println!("  list page (limit 500, {page_count} items): median {:.1} ms", page.as_secs_f64() * 1e3);
    println!("  list by label ({selected_count} items): median {:.1} ms", selected.as_secs_f64() * 1e3);
    report_formats(json, protobuf);
    println!(
        "  memory (server + in-process clients): RSS {:.0} MiB now, {:.0} MiB peak, {:.0} MiB before starting",
        status_kib("VmRSS:") / 1024.0,
        status_kib("VmHWM:") / 1024.0,
        baseline_kib / 1024.0
    );
    assert_eq!(server.object_count(), OBJECTS + 3, "every object stored (plus 3 namespaces)");
}
