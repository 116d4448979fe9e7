//! GATEWAY-GRPC scenarios: GRPCRoutes on HTTP listeners, with calls of the gRPC echo service
//! (`portico_echo::grpc`) through HAProxy over h2c. As upstream's gRPC client does, a call that
//! reaches no route ends with the code its HTTP status maps to (HAProxy's 404: UNIMPLEMENTED).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use portico_echo::grpc::{self, OK, UNIMPLEMENTED};

use crate::base::{CLASS, INFRA};
use crate::check::{Ctx, Outcome, is_pod_of};

const SAME: (&str, &str) = (INFRA, "same-namespace");

/// Request metadata as `(key, value)`.
type Metadata<'a> = &'a [(&'a str, &'a str)];

/// One call and what must come back.
struct Call {
    method: &'static str,
    authority: String,
    metadata: Vec<(&'static str, &'static str)>,
    code: u32,
    /// The answering Pod belongs to this Deployment (and [`INFRA`]).
    backend: Option<&'static str>,
}

fn call(authority: &str, method: &'static str) -> Call {
    Call { method, authority: authority.into(), metadata: Vec::new(), code: OK, backend: None }
}

impl Call {
    fn to(mut self, backend: &'static str) -> Self {
        self.backend = Some(backend);
        self
    }
    fn with(mut self, metadata: &[(&'static str, &'static str)]) -> Self {
        self.metadata = metadata.to_vec();
        self
    }
    fn fails(mut self, code: u32) -> Self {
        self.code = code;
        self
    }

    async fn check(&self, at: SocketAddr) -> Outcome {
        let got = grpc::call(at, &self.authority, self.method, &self.metadata, Duration::from_secs(5)).await?;
        if got.code != self.code {
            return Err(format!("gRPC status {} ({}), wanted {}", got.code, got.message, self.code));
        }
        let Some(reply) = got.reply.filter(|_| got.code == OK) else {
            return Ok(());
        };
        let method = format!("/{}/{}", grpc::SERVICE, self.method);
        if reply.method != method {
            return Err(format!("backend saw method {}, wanted {method}", reply.method));
        }
        if reply.namespace != INFRA {
            return Err(format!("answered from namespace {:?}, wanted {INFRA}", reply.namespace));
        }
        match self.backend {
            Some(backend) if !is_pod_of(&reply.pod, backend) => Err(format!("answered by Pod {:?}, wanted one of {backend}", reply.pod)),
            _ => Ok(()),
        }
    }

    /// Upstream's eventually consistent response.
    async fn expect(&self, c: &Ctx, at: SocketAddr) -> Outcome {
        let what = format!("gRPC {} :authority {} {:?} via {at}", self.method, self.authority, self.metadata);
        c.consistently(&what, || self.check(at)).await
    }
}

fn grpc_route(name: &str, parents: &str, hostname: Option<&str>, rules: &str) -> String {
    let hostnames = hostname.map(|h| format!("  hostnames: [{h}]\n")).unwrap_or_default();
    format!(
        "---\napiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: {{name: {name}, namespace: {INFRA}}}\nspec:\n  parentRefs: [{parents}]\n{hostnames}  rules:\n{rules}"
    )
}

/// The `backendRefs` line of a rule with matches.
fn backend(name: &str) -> String {
    format!("    backendRefs: [{{name: {name}, port: 8080}}]\n")
}

/// A rule without matches, to one backend.
fn forward(name: &str) -> String {
    format!("  - backendRefs: [{{name: {name}, port: 8080}}]\n")
}

/// Apply `yaml`, wait until `routes` are accepted by Gateway `gw`, run `body`, delete again.
async fn with<F, Fut>(c: &Ctx, yaml: &str, gw: (&str, &str), routes: &[&str], body: F) -> Outcome
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Outcome>,
{
    let a = c.apply(yaml).await?;
    let r = async {
        for route in routes {
            c.route_accepted("GRPCRoute", INFRA, route, gw).await?;
        }
        body().await
    }
    .await;
    c.delete(a).await;
    r
}

pub async fn exact_method_matching(c: &Ctx) -> Outcome {
    let h = "grpc-exact-method-matching.conformance.test";
    let rule = |method: &str, to: &str| format!("  - matches: [{{method: {{service: {}, method: {method}}}}}]\n{}", grpc::SERVICE, backend(to));
    let yaml = grpc_route(
        "exact-matching",
        "{name: same-namespace}",
        Some(h),
        &[rule("Echo", "grpc-infra-backend-v1"), rule("EchoTwo", "grpc-infra-backend-v2")].concat(),
    );
    with(c, &yaml, SAME, &["exact-matching"], || async {
        let at = c.gw("same-namespace", 80);
        call(h, "Echo").to("grpc-infra-backend-v1").expect(c, at).await?;
        call(h, "EchoTwo").to("grpc-infra-backend-v2").expect(c, at).await?;
        call(h, "EchoThree").fails(UNIMPLEMENTED).expect(c, at).await
    })
    .await
}

pub async fn header_matching(c: &Ctx) -> Outcome {
    let h = "grpc-header-matching.conformance.test";
    let headers = |list: &[(&str, &str)]| list.iter().map(|(n, v)| format!("{{name: {n}, value: {v}}}")).collect::<Vec<_>>().join(", ");
    let rule = |matches: &[&[(&str, &str)]], to: &str| {
        let matches: Vec<String> = matches.iter().map(|m| format!("{{headers: [{}]}}", headers(m))).collect();
        format!("  - matches: [{}]\n{}", matches.join(", "), backend(to))
    };
    let (v1, v2) = ("grpc-infra-backend-v1", "grpc-infra-backend-v2");
    let rules = [
        rule(&[&[("version", "one")]], v1),
        rule(&[&[("version", "two")]], v2),
        rule(&[&[("version", "two"), ("color", "orange")]], v1),
        rule(&[&[("color", "blue")], &[("color", "green")]], v1),
        rule(&[&[("color", "red")], &[("color", "yellow")]], v2),
    ]
    .concat();
    let yaml = grpc_route("grpc-header-matching", "{name: same-namespace}", Some(h), &rules);
    with(c, &yaml, SAME, &["grpc-header-matching"], || async {
        let at = c.gw("same-namespace", 80);
        let cases: &[(Metadata, Option<&str>)] = &[
            (&[("Version", "one")], Some(v1)),
            (&[("Version", "two")], Some(v2)),
            (&[("Version", "two"), ("Color", "orange")], Some(v1)),
            (&[("Version", "two"), ("Color", "blue")], Some(v2)),
            (&[("Color", "orange")], None),
            (&[("Some-Other-Header", "one")], None),
            (&[("Color", "blue")], Some(v1)),
            (&[("Color", "green")], Some(v1)),
            (&[("Color", "red")], Some(v2)),
            (&[("Color", "yellow")], Some(v2)),
            (&[("Color", "purple")], None),
        ];
        for (metadata, to) in cases {
            let expected = call(h, "Echo").with(metadata);
            let expected = match to {
                Some(to) => expected.to(to),
                None => expected.fails(UNIMPLEMENTED),
            };
            expected.expect(c, at).await?;
        }
        Ok(())
    })
    .await
}

pub async fn listener_hostname_matching(c: &Ctx) -> Outcome {
    let gw = "grpcroute-listener-hostname-matching";
    let listener = |name: &str, host: &str| {
        format!("  - {{name: {name}, port: 80, protocol: HTTP, hostname: \"{host}\", allowedRoutes: {{namespaces: {{from: Same}}}}}}\n")
    };
    let parent = |section: &str| format!("{{name: {gw}, namespace: {INFRA}, sectionName: {section}}}");
    let yaml = [
        format!("---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: {gw}, namespace: {INFRA}}}\nspec:\n  gatewayClassName: {CLASS}\n  listeners:\n"),
        listener("listener-1", "bar.com"),
        listener("listener-2", "foo.bar.com"),
        listener("listener-3", "*.bar.com"),
        listener("listener-4", "*.foo.com"),
        grpc_route("backend-v1", &parent("listener-1"), None, &forward("grpc-infra-backend-v1")),
        grpc_route("backend-v2", &parent("listener-2"), None, &forward("grpc-infra-backend-v2")),
        grpc_route("backend-v3", &format!("{}, {}", parent("listener-3"), parent("listener-4")), None, &forward("grpc-infra-backend-v3")),
    ]
    .concat();
    with(c, &yaml, (INFRA, gw), &["backend-v1", "backend-v2", "backend-v3"], || async {
        let at = c.at(&c.programmed(INFRA, gw).await?, 80);
        let cases = [
            ("bar.com", Some("grpc-infra-backend-v1")),
            ("foo.bar.com", Some("grpc-infra-backend-v2")),
            ("baz.bar.com", Some("grpc-infra-backend-v3")),
            ("boo.bar.com", Some("grpc-infra-backend-v3")),
            ("multiple.prefixes.bar.com", Some("grpc-infra-backend-v3")),
            ("multiple.prefixes.foo.com", Some("grpc-infra-backend-v3")),
            ("foo.com", None),
            ("no.matching.host", None),
        ];
        for (authority, to) in cases {
            let expected = match to {
                Some(to) => call(authority, "Echo").to(to),
                None => call(authority, "Echo").fails(UNIMPLEMENTED),
            };
            expected.expect(c, at).await?;
        }
        Ok(())
    })
    .await
}

pub async fn weight(c: &Ctx) -> Outcome {
    use crate::filters::WEIGHT_SAMPLES;
    let h = "grpc-weight.conformance.test";
    let rules = "  - backendRefs: [{name: grpc-infra-backend-v1, port: 8080, weight: 70}, {name: grpc-infra-backend-v2, port: 8080, weight: 30}, {name: grpc-infra-backend-v3, port: 8080, weight: 0}]\n";
    let yaml = grpc_route("weighted-backends", "{name: same-namespace}", Some(h), rules);
    with(c, &yaml, SAME, &["weighted-backends"], || async {
        let at = c.gw("same-namespace", 80);
        call(h, "Echo").expect(c, at).await?;
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for _ in 0..WEIGHT_SAMPLES {
            let got = grpc::call(at, h, "Echo", &[], Duration::from_secs(5)).await?;
            let pod = got.reply.map(|r| r.pod).unwrap_or_else(|| format!("gRPC status {}", got.code));
            let service = ["grpc-infra-backend-v1", "grpc-infra-backend-v2", "grpc-infra-backend-v3"]
                .into_iter()
                .find(|s| pod.starts_with(&format!("{s}-")))
                .map(str::to_string)
                .unwrap_or(pod);
            *counts.entry(service).or_default() += 1;
        }
        let share = |s: &str| counts.get(s).copied().unwrap_or(0) as f64 * 100.0 / WEIGHT_SAMPLES as f64;
        let ok = (65.0..=75.0).contains(&share("grpc-infra-backend-v1"))
            && (25.0..=35.0).contains(&share("grpc-infra-backend-v2"))
            && share("grpc-infra-backend-v3") == 0.0;
        ok.then_some(()).ok_or_else(|| format!("weights 70/30/0 gave {counts:?} over {WEIGHT_SAMPLES} calls"))
    })
    .await
}

/// Upstream's GRPCRouteNamedRule: a named rule beside an unnamed one, each reached by its method.
pub async fn named_rule(c: &Ctx) -> Outcome {
    let h = "grpc-named-rule.conformance.test";
    let rule =
        |name: &str, method: &str, to: &str| format!("  - {name}matches: [{{method: {{service: {}, method: {method}}}}}]\n{}", grpc::SERVICE, backend(to));
    let rules = [rule("name: named-rule\n    ", "Echo", "grpc-infra-backend-v1"), rule("", "EchoTwo", "grpc-infra-backend-v2")].concat();
    let yaml = grpc_route("named-rule", "{name: same-namespace}", Some(h), &rules);
    with(c, &yaml, SAME, &["named-rule"], || async {
        let at = c.gw("same-namespace", 80);
        call(h, "Echo").to("grpc-infra-backend-v1").expect(c, at).await?;
        call(h, "EchoTwo").to("grpc-infra-backend-v2").expect(c, at).await
    })
    .await
}
