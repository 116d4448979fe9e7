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

#[cfg(test)]
mod tests {
    use super::endpoint_commands;

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
