//! Endpoint-only changes through HAProxy's runtime API: when a new configuration differs from the
//! running one only in server addresses (within the spare slots the renderer leaves), the servers
//! are updated with `set server` commands on the stats socket instead of a reload.

use std::collections::BTreeMap;
use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `(backend, slot) -> (address, enabled)` for every `server` line, and the configuration with
/// addresses and `disabled` masked (its "shape").
fn parse(config: &str) -> (BTreeMap<(String, String), (String, bool)>, String) {
    let mut servers = BTreeMap::new();
    let mut shape = String::with_capacity(config.len());
    let mut backend = String::new();
    for line in config.lines() {
        let trimmed = line.trim_start();
        if let Some(name) = trimmed.strip_prefix("backend ") {
            backend = name.trim().to_string();
        } else if !line.starts_with(' ') && !trimmed.is_empty() {
            backend.clear();
        }
        let tokens: Vec<&str> = trimmed.split_whitespace().collect();
        let is_slot = !backend.is_empty() && tokens.first() == Some(&"server") && tokens.len() >= 3 && is_socket_address(tokens[2]);
        if is_slot {
            let enabled = !tokens.contains(&"disabled");
            servers.insert((backend.clone(), tokens[1].to_string()), (tokens[2].to_string(), enabled));
            let rest: Vec<&str> = tokens[3..].iter().copied().filter(|t| *t != "disabled").collect();
            shape.push_str(&format!("server {} * {}\n", tokens[1], rest.join(" ")));
        } else {
            shape.push_str(line);
            shape.push('\n');
        }
    }
    (servers, shape)
}

fn is_socket_address(token: &str) -> bool {
    let host = token.rsplit_once(':').map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']')).unwrap_or("");
    host.parse::<std::net::IpAddr>().is_ok()
}

/// The runtime commands that turn the running `old` configuration into `new`, or `None` when
/// they differ in more than server addresses (a reload is needed).
pub fn endpoint_commands(old: &str, new: &str) -> Option<Vec<String>> {
    let (before, old_shape) = parse(old);
    let (after, new_shape) = parse(new);
    if old_shape != new_shape {
        return None;
    }
    let mut commands = Vec::new();
    for (key, (address, enabled)) in &after {
        if before.get(key) == Some(&(address.clone(), *enabled)) {
            continue;
        }
        let (backend, slot) = key;
        if *enabled {
            let (host, port) = address.rsplit_once(':')?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            commands.push(format!("set server {backend}/{slot} addr {host} port {port}"));
            commands.push(format!("set server {backend}/{slot} state ready"));
        } else {
            commands.push(format!("set server {backend}/{slot} state maint"));
        }
    }
    Some(commands)
}

/// Send commands to the runtime API socket; fails if HAProxy rejects any of them.
pub async fn send(socket: &Path, commands: &[String]) -> Result<(), String> {
    let mut stream = tokio::net::UnixStream::connect(socket).await.map_err(|e| format!("runtime API {}: {e}", socket.display()))?;
    let mut request = commands.join(";");
    request.push('\n');
    stream.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.map_err(|e| e.to_string())?;
    let refused = ["No such", "Unknown command", "Require", "Invalid", "invalid", "not found"];
    match reply.lines().find(|l| refused.iter().any(|r| l.contains(r))) {
        Some(line) => Err(format!("runtime API refused a command: {line}")),
        None => Ok(()),
    }
}

/// One request on its own connection; HAProxy's answer.
async fn request(socket: &Path, text: &str) -> Result<String, String> {
    let mut stream = tokio::net::UnixStream::connect(socket).await.map_err(|e| format!("runtime API {}: {e}", socket.display()))?;
    stream.write_all(text.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.map_err(|e| e.to_string())?;
    Ok(reply)
}

/// The largest payload sent in one request (HAProxy's CLI buffer is 16 KiB by default).
const PAYLOAD_BYTES: usize = 8 * 1024;

/// Replace the whole content of the map file `map` (as the configuration names it) atomically:
/// a new version is prepared, filled in file order (chunked payloads) and committed, so requests
/// see the old map or the new one, never a mix.
pub async fn replace_map(socket: &Path, map: &str, content: &str) -> Result<(), String> {
    let reply = request(socket, &format!("prepare map {map}\n")).await?;
    let version = reply
        .trim()
        .strip_prefix("New version created:")
        .map(str::trim)
        .filter(|v| v.chars().all(|c| c.is_ascii_digit()) && !v.is_empty())
        .ok_or_else(|| format!("runtime API refused to prepare {map}: {}", reply.trim()))?
        .to_string();
    let mut chunk = String::new();
    for line in content.lines().filter(|l| !l.is_empty()) {
        chunk.push_str(line);
        chunk.push('\n');
        if chunk.len() >= PAYLOAD_BYTES {
            add_payload(socket, &version, map, &chunk).await?;
            chunk.clear();
        }
    }
    if !chunk.is_empty() {
        add_payload(socket, &version, map, &chunk).await?;
    }
    let reply = request(socket, &format!("commit map @{version} {map}\n")).await?;
    if reply.trim().is_empty() { Ok(()) } else { Err(format!("runtime API refused to commit {map}: {}", reply.trim())) }
}

async fn add_payload(socket: &Path, version: &str, map: &str, lines: &str) -> Result<(), String> {
    let reply = request(socket, &format!("add map @{version} {map} <<\n{lines}\n")).await?;
    if reply.trim().is_empty() { Ok(()) } else { Err(format!("runtime API refused entries of {map}: {}", reply.trim())) }
}

/// The map content to install before the selection maps change, for a map a selection value
/// points into (the rules' backends): the new entries, plus the old ones the new map drops, so a
/// request selected by the old maps still finds its backend until the new maps are in.
pub fn widened(old: &str, new: &str) -> String {
    let keys: std::collections::BTreeSet<&str> = new.lines().filter_map(|l| l.split_whitespace().next()).collect();
    let mut out = new.to_string();
    for line in old.lines().filter(|l| l.split_whitespace().next().is_some_and(|k| !keys.contains(k))) {
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::endpoint_commands;

    #[test]
    fn a_widened_map_keeps_dropped_keys_after_the_new_entries() {
        assert_eq!(super::widened("1 a\n2 b\n", "2 c\n3 d\n"), "2 c\n3 d\n1 a\n");
    }

    const OLD: &str = "frontend fe\n    bind 1.2.3.4:80\n\nbackend be_a\n    mode http\n    server s0 10.0.0.1:80\n    server s1 127.0.0.1:1 disabled\n";

    #[test]
    fn address_changes_become_commands() {
        let new = OLD.replace("server s1 127.0.0.1:1 disabled", "server s1 10.0.0.2:8080");
        assert_eq!(
            endpoint_commands(OLD, &new).unwrap(),
            vec!["set server be_a/s1 addr 10.0.0.2 port 8080".to_string(), "set server be_a/s1 state ready".to_string()]
        );
        let removed = OLD.replace("server s0 10.0.0.1:80", "server s0 127.0.0.1:1 disabled");
        assert_eq!(endpoint_commands(OLD, &removed).unwrap(), vec!["set server be_a/s0 state maint".to_string()]);
        assert_eq!(endpoint_commands(OLD, OLD).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn other_changes_need_a_reload() {
        assert!(endpoint_commands(OLD, &OLD.replace("bind 1.2.3.4:80", "bind 1.2.3.4:81")).is_none());
        assert!(endpoint_commands(OLD, &format!("{OLD}    server s2 127.0.0.1:1 disabled\n")).is_none());
    }
}
