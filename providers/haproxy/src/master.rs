//! Confirming a reload. HAProxy 2.6 re-executes its master on SIGUSR2 and forks new workers
//! only when the new configuration loaded; when it did not, the old workers keep serving and the
//! master CLI's `show proc` counts a failed reload. Portico waits for a worker it has not seen
//! before (from the master CLI, `-S <state>/master.sock`, or else from the master's children in
//! `/proc`), so a lost or refused reload is reported instead of assumed.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// What `show proc` on the master CLI says: the failed reload count and the current workers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Processes {
    pub failed_reloads: u64,
    pub workers: Vec<u32>,
}

/// Parse `show proc` (HAProxy 2.6): a master line `<pid> master <reloads> [failed: N] ...`, then
/// `# workers` lines `<pid> worker <reloads> ...` until the next `#` section.
pub fn parse_show_proc(text: &str) -> Option<Processes> {
    let mut out = Processes::default();
    let mut section = "";
    let mut saw_master = false;
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('#') {
            section = if name.trim() == "workers" { "workers" } else { "other" };
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.get(1).copied() {
            Some("master") => {
                saw_master = true;
                let failed = line.split_once("failed:").and_then(|(_, rest)| rest.trim_start().split(|c: char| !c.is_ascii_digit()).next());
                out.failed_reloads = failed.and_then(|n| n.parse().ok()).unwrap_or(0);
            }
            Some("worker") if section == "workers" => out.workers.extend(fields[0].parse::<u32>().ok()),
            _ => {}
        }
    }
    saw_master.then_some(out)
}

/// Ask the master CLI for `show proc`.
pub async fn show_proc(socket: &Path) -> Option<Processes> {
    let exchange = async {
        let mut stream = tokio::net::UnixStream::connect(socket).await.ok()?;
        stream.write_all(b"show proc\n").await.ok()?;
        // The master CLI answers and closes only once the client has finished writing.
        stream.shutdown().await.ok()?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.ok()?;
        Some(reply)
    };
    let reply = tokio::time::timeout(Duration::from_secs(2), exchange).await.ok().flatten()?;
    parse_show_proc(&reply)
}

/// The master's child processes (its workers), when the master CLI cannot be reached.
pub fn children(master: u32) -> Vec<u32> {
    let text = std::fs::read_to_string(format!("/proc/{master}/task/{master}/children")).unwrap_or_default();
    text.split_whitespace().filter_map(|p| p.parse().ok()).collect()
}

/// The current workers and failed reload count, from the master CLI or else from `/proc`.
pub async fn processes(socket: &Path, master: u32) -> Processes {
    match show_proc(socket).await {
        Some(processes) => processes,
        None => Processes { failed_reloads: 0, workers: children(master) },
    }
}

/// Wait until a worker not in `before` runs: `Ok` when the new configuration serves, `Err`
/// (HAProxy's own account when it has one) when the reload failed or nothing happened in time.
pub async fn confirm(socket: &Path, master: u32, before: &Processes, timeout: Duration) -> Result<(), String> {
    let start = tokio::time::Instant::now();
    loop {
        let now = processes(socket, master).await;
        if now.workers.iter().any(|w| !before.workers.contains(w)) {
            return Ok(());
        }
        if now.failed_reloads > before.failed_reloads {
            return Err(
                "HAProxy refused to load the new configuration (the master CLI counts a failed reload); the previous configuration keeps serving".into()
            );
        }
        if start.elapsed() >= timeout {
            return Err(format!("no HAProxy worker with the new configuration started within {} s", timeout.as_secs()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn show_proc_of_haproxy_2_6() {
        let text = "#<PID>          <type>          <reloads>       <uptime>        <version>\n\
            26985           master          4 [failed: 1]   0d00h10m30s     2.6.12-1+deb12u3\n\
            # workers\n\
            4279            worker          1               0d00h00m11s     2.6.12-1+deb12u3\n\
            # old workers\n\
            4222            worker          2               0d00h00m40s     2.6.12-1+deb12u3\n\
            # programs\n\n";
        let parsed = super::parse_show_proc(text).unwrap();
        assert_eq!(parsed, super::Processes { failed_reloads: 1, workers: vec![4279] });
        assert_eq!(super::parse_show_proc("Unknown command\n"), None);
    }
}
