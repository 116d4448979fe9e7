//! The HAProxy data plane at scale: requests per second through real HAProxy (wrk on loopback,
//! an in-process echo backend) for the first and the last of N path-prefix routes (a path below the prefix) on one Gateway, with the
//! map dispatch (routes matching on paths), with every route split 80/20 between two Services
//! (the draw looked up in `picks.map`), and, for comparison in the same run, with one line per
//! rule (every route also matches the method, which keeps its virtual host on lines). Then the
//! time to render 100 Gateways x 100 routes from scratch and after an edit of one of them.
//! Prints the figures and the ratios issue 16 asks for; never passes or fails on time.
//! Run: `cargo bench -p portico-haproxy --bench dataplane` (needs `haproxy` and `wrk`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use portico_haproxy::{GatewayInput, RenderSettings, render};
use portico_model::ir::{
    self, Backend, BackendProtocol, BackendTarget, Endpoint, HttpAction, HttpMatch, HttpRouteEntry, ObjectRef, PathMatch, Port, PortProtocol,
};

const SECONDS: u32 = 3;

/// One Gateway with `routes` prefix routes; `method` adds a method match (the rules are then
/// selected by lines), `weighted` splits each route 80/20 between two Services.
fn gateway(routes: usize, method: bool, weighted: bool, echo: SocketAddr) -> ir::Gateway {
    let endpoint = Endpoint { address: echo.ip().to_string(), port: echo.port(), zone: None, node: None };
    let backend = |name: &str| {
        let service = ObjectRef::new("default", name);
        let id = Backend::id_for(&service, 8080, BackendProtocol::Http);
        (id, Backend { service, port: 8080, protocol: BackendProtocol::Http, external_name: None, endpoints: vec![endpoint.clone()], tls: None })
    };
    let (id, canary) = (backend("echo").0, backend("canary").0);
    let weighted_backend = |id: &str, weight| ir::WeightedBackend { weight, target: BackendTarget::Backend { id: id.to_string() }, filters: Vec::new() };
    let backends = if weighted { vec![weighted_backend(&id, 80), weighted_backend(&canary, 20)] } else { vec![weighted_backend(&id, 1)] };
    let entries = (0..routes)
        .map(|i| HttpRouteEntry {
            source: ir::RouteSource {
                kind: portico_model::RouteKind::Http,
                namespace: "default".into(),
                name: format!("r{i}"),
                rule: 0,
                rule_name: None,
                r#match: 0,
            },
            matcher: HttpMatch { path: PathMatch::Prefix(format!("/route-{i}")), method: method.then(|| "GET".to_string()), ..HttpMatch::default() },
            filters: Vec::new(),
            action: HttpAction::Forward { backends: backends.clone() }.into(),
            timeouts: None,
            retry: None,
            session_persistence: None,
        })
        .collect();
    let vhost = ir::VirtualHost { hostname: "*".into(), listener: "http".into(), routes: entries };
    let port = Port {
        port: 80,
        protocol: PortProtocol::Http,
        listeners: vec!["http".into()],
        certificates: Vec::new(),
        client_validation: None,
        virtual_hosts: vec![vhost],
        tls_routes: Vec::new(),
        l4_routes: Vec::new(),
    };
    ir::Gateway {
        gateway: ObjectRef::new("default", "bench"),
        gateway_class: "haproxy".into(),
        provider: portico_model::ProviderKind::Haproxy,
        parameters: None,
        requested_addresses: Vec::new(),
        infrastructure_labels: BTreeMap::new(),
        infrastructure_annotations: BTreeMap::new(),
        backend_client_certificate: None,
        ports: vec![port],
        backends: BTreeMap::from([backend("echo"), backend("canary")]),
    }
}

struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &Path, gw: &ir::Gateway, offset: u16) -> Haproxy {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("certs")).unwrap();
    let settings = RenderSettings {
        cert_dir: dir.join("certs"),
        port_offset: offset,
        timeout_connect_ms: 5000,
        timeout_client_ms: 30000,
        timeout_server_ms: 30000,
        runtime_socket: dir.join("haproxy.sock"),
    };
    let rendered = render(&[GatewayInput { ir: gw, address: "127.0.0.1".parse().unwrap() }], &BTreeMap::new(), &settings);
    assert!(rendered.refused.is_empty(), "{:?}", rendered.refused);
    for (name, bytes) in &rendered.cert_files {
        std::fs::write(dir.join("certs").join(name), bytes).unwrap();
    }
    std::fs::write(dir.join("haproxy.cfg"), &rendered.config).unwrap();
    let child = Command::new("haproxy").arg("-db").arg("-f").arg(dir.join("haproxy.cfg")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("haproxy");
    let address: SocketAddr = format!("127.0.0.1:{}", 80 + offset).parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(address).is_err() {
        assert!(Instant::now() < deadline, "haproxy did not listen on {address}");
        std::thread::sleep(Duration::from_millis(50));
    }
    Haproxy(child)
}

/// Requests per second of `wrk` against `url` (all answers must be 2xx).
fn wrk(url: &str) -> f64 {
    let out = Command::new("wrk").args(["-t1", "-c32", &format!("-d{SECONDS}s"), url]).output().expect("wrk (apt install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("Non-2xx"), "non-2xx answers from {url}:\n{text}");
    text.lines().find_map(|l| l.strip_prefix("Requests/sec:")).and_then(|v| v.trim().parse().ok()).unwrap_or_else(|| panic!("no figure from wrk:\n{text}"))
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let echo = runtime.block_on(portico_echo::serve_http(&["127.0.0.1:0".parse().unwrap()], portico_echo::EchoConfig::default())).unwrap()[0];
    let dir = std::env::temp_dir().join(format!("portico-dataplane-{}", std::process::id()));
    let direct = wrk(&format!("http://{echo}/route-0"));
    println!("direct to the echo backend: {direct:.0} requests/s");
    println!("{:>7} {:>9} {:>12} {:>12} {:>10}", "routes", "dispatch", "first rps", "last rps", "last/first");
    let mut first_at = BTreeMap::new();
    let cases = [(1, "maps"), (1_000, "maps"), (10_000, "maps"), (1, "weighted"), (10_000, "weighted"), (1, "lines"), (1_000, "lines")];
    for (n, (routes, mode)) in cases.into_iter().enumerate() {
        let offset = 20_000 + u16::try_from(n).unwrap() * 100;
        let _haproxy = start(&dir, &gateway(routes, mode == "lines", mode == "weighted", echo), offset);
        let base = format!("http://127.0.0.1:{}", 80 + offset);
        // Below the prefix, so the longest-prefix map is what selects the rule.
        let first = wrk(&format!("{base}/route-0/x"));
        let last = wrk(&format!("{base}/route-{}/x", routes - 1));
        println!("{routes:>7} {mode:>9} {first:>12.0} {last:>12.0} {:>10.3}", last / first);
        first_at.insert((routes, mode), first);
    }
    let ratio = |a, b| first_at.get(&a).zip(first_at.get(&b)).map_or(f64::NAN, |(x, y)| x / y);
    println!("maps: first route at 10,000 routes / at 1 route: {:.3}", ratio((10_000, "maps"), (1, "maps")));
    println!("weighted (80/20 through picks.map): first route at 10,000 routes / at 1 route: {:.3}", ratio((10_000, "weighted"), (1, "weighted")));
    println!("lines: first route at 1,000 routes / at 1 route: {:.3}", ratio((1_000, "lines"), (1, "lines")));
    let _ = std::fs::remove_dir_all(&dir);
    render_after_one_edit(echo);
}

/// Rendering 100 Gateways x 100 routes from scratch, and again after one Gateway changed, with
/// the per-Gateway cache the provider keeps (`render_cached`): the edit re-renders one Gateway.
fn render_after_one_edit(echo: SocketAddr) {
    use std::sync::Arc;
    let settings = RenderSettings {
        cert_dir: "/tmp/portico-render".into(),
        port_offset: 0,
        timeout_connect_ms: 5000,
        timeout_client_ms: 30000,
        timeout_server_ms: 30000,
        runtime_socket: "/tmp/portico-render.sock".into(),
    };
    let mut irs: Vec<Arc<ir::Gateway>> = (0..100)
        .map(|g| {
            let mut gw = gateway(100, false, g % 2 == 0, echo);
            gw.gateway = ObjectRef::new("default", format!("g{g}"));
            Arc::new(gw)
        })
        .collect();
    let address: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    let time = |f: &mut dyn FnMut()| {
        let mut times: Vec<f64> = (0..5)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times[2]
    };
    let full = time(&mut || {
        let inputs: Vec<GatewayInput<'_>> = irs.iter().map(|ir| GatewayInput { ir, address }).collect();
        std::hint::black_box(render(&inputs, &BTreeMap::new(), &settings));
    });
    let mut cache = portico_haproxy::RenderCache::default();
    let mut edit = 0;
    let cached = time(&mut || {
        edit += 1;
        Arc::make_mut(&mut irs[0]).ports[0].virtual_hosts[0].routes[0].source.rule = edit;
        let shared: Vec<(&Arc<ir::Gateway>, std::net::IpAddr)> = irs.iter().map(|ir| (ir, address)).collect();
        std::hint::black_box(portico_haproxy::render_cached(&mut cache, &shared, &BTreeMap::new(), &settings));
    });
    println!(
        "render of 100 Gateways x 100 routes: from scratch {full:.1} ms (median of 5); after an edit of one Gateway {cached:.1} ms ({:.2}x)",
        cached / full
    );
}
