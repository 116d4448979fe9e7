//! Just enough PEM to tell a usable TLS Secret from a malformed one, without a crypto library:
//! `tls.crt` must hold at least one CERTIFICATE block and `tls.key` one PRIVATE KEY block, each
//! with a non-empty, well-formed base64 body.

use base64::Engine as _;
use k8s_openapi::api::core::v1::Secret;

pub fn check_tls_secret(secret: &Secret) -> Result<(), String> {
    let data = secret.data.as_ref();
    let field = |name: &str| data.and_then(|d| d.get(name)).map(|b| b.0.as_slice());
    let crt = field("tls.crt").ok_or("missing tls.crt")?;
    let key = field("tls.key").ok_or("missing tls.key")?;
    let blocks = pem_blocks(crt).map_err(|e| format!("tls.crt: {e}"))?;
    if !blocks.iter().any(|label| label == "CERTIFICATE") {
        return Err("tls.crt holds no PEM CERTIFICATE block".into());
    }
    let blocks = pem_blocks(key).map_err(|e| format!("tls.key: {e}"))?;
    if !blocks.iter().any(|label| label.ends_with("PRIVATE KEY")) {
        return Err("tls.key holds no PEM PRIVATE KEY block".into());
    }
    Ok(())
}

/// A CA bundle: one or more PEM CERTIFICATE blocks and nothing else (a private key in a trust
/// bundle is a mistake worth refusing).
pub fn check_ca_bundle(bytes: &[u8]) -> Result<(), String> {
    let blocks = pem_blocks(bytes)?;
    match blocks.iter().find(|label| *label != "CERTIFICATE") {
        Some(other) => Err(format!("holds a PEM {other} block; a CA bundle holds CERTIFICATE blocks only")),
        None => Ok(()),
    }
}

/// The labels of the PEM blocks in `bytes`, or why they are malformed.
fn pem_blocks(bytes: &[u8]) -> Result<Vec<String>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not text".to_string())?;
    let mut labels = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line.strip_prefix("-----BEGIN ").and_then(|l| l.strip_suffix("-----")) else { continue };
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut closed = false;
        for inner in lines.by_ref() {
            if inner == end {
                closed = true;
                break;
            }
            if !inner.contains(':') {
                body.push_str(inner);
            }
        }
        if !closed {
            return Err(format!("PEM block {label} is not terminated"));
        }
        let decoded = base64::engine::general_purpose::STANDARD.decode(body.as_bytes()).map_err(|_| format!("PEM block {label} is not valid base64"))?;
        if decoded.is_empty() {
            return Err(format!("PEM block {label} is empty"));
        }
        labels.push(label.to_string());
    }
    if labels.is_empty() {
        return Err("no PEM data".into());
    }
    Ok(labels)
}
