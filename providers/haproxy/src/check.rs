//! `haproxy -c` with HAProxy's own words: the check runs without `-q` (which prints nothing) and
//! the `[ALERT]` lines are kept, so a rejected Gateway or route carries HAProxy's error text.
//! Files of a check live in a private staging directory, never next to the running
//! configuration, so material HAProxy rejects never reaches the live certificate directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::files;

/// Why a check did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckFailure {
    /// HAProxy rejected the configuration: its alert lines.
    Rejected(String),
    /// The check could not run (binary missing, files not writable).
    CannotRun(String),
}

/// HAProxy's error lines from non-quiet `haproxy -c` output: each `[ALERT]` line without its
/// `[ALERT] (pid) : ` prefix, without the closing summary lines, and with the checked file's
/// path shortened to `haproxy.cfg`.
pub fn alerts(output: &str, config: &Path) -> String {
    let path = config.to_string_lossy();
    let lines: Vec<String> = output
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("[ALERT]"))
        .map(|rest| rest.split_once(") : ").map_or(rest, |(_, text)| text).trim())
        .filter(|text| !text.contains("Error(s) found in configuration file") && !text.contains("Fatal errors found in configuration"))
        .map(|text| text.replace(path.as_ref(), "haproxy.cfg"))
        .collect();
    if lines.is_empty() {
        // No alert line: keep whatever HAProxy said, so the message is never empty.
        let text = output.lines().filter(|l| !l.contains("[NOTICE]")).collect::<Vec<_>>().join(" ");
        return if text.trim().is_empty() { "haproxy -c failed without a message".into() } else { text.trim().to_string() };
    }
    lines.join("; ")
}

/// `haproxy -c -f <config>`: `Ok` when HAProxy accepts it.
pub async fn check(binary: &str, config: &Path) -> Result<(), CheckFailure> {
    let output = tokio::process::Command::new(binary).arg("-c").arg("-f").arg(config).output().await;
    let output = output.map_err(|e| CheckFailure::CannotRun(format!("cannot run {binary}: {e}")))?;
    if output.status.success() {
        return Ok(());
    }
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    Err(CheckFailure::Rejected(alerts(&text, config)))
}

/// A private scratch directory for one check (removed when dropped).
pub struct Staging {
    pub dir: PathBuf,
}

impl Staging {
    pub fn new(root: &Path, name: &str) -> std::io::Result<Staging> {
        let dir = root.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        files::private_dir(&dir.join("certs"))?;
        Ok(Staging { dir })
    }

    pub fn cert_dir(&self) -> PathBuf {
        self.dir.join("certs")
    }

    /// Write `config` and its certificate files, then check them.
    pub async fn check(&self, binary: &str, config: &str, cert_files: &BTreeMap<String, Vec<u8>>) -> Result<(), CheckFailure> {
        let io = |e: std::io::Error| CheckFailure::CannotRun(format!("cannot write the configuration to check: {e}"));
        for (name, bytes) in cert_files {
            files::write_private(&self.cert_dir().join(name), bytes).map_err(io)?;
        }
        let path = self.dir.join("haproxy.cfg");
        files::write_private(&path, config.as_bytes()).map_err(io)?;
        // Name files as the running configuration does (`certs/...`), not by the staging path.
        let prefix = format!("{}/", self.dir.display());
        check(binary, &path).await.map_err(|failure| match failure {
            CheckFailure::Rejected(alerts) => CheckFailure::Rejected(alerts.replace(&prefix, "")),
            other => other,
        })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn alerts_keep_haproxys_words() {
        let output = "[NOTICE]   (1) : haproxy version is 2.6.12\n\
            [ALERT]    (1) : config : parsing [/s/x/haproxy.cfg:9] : 'bind 127.0.0.1:80' in section 'frontend' : 'crt-list' : inconsistencies between private key and certificate loaded '/s/x/certs/a.pem'.\n\
            [ALERT]    (1) : config : Error(s) found in configuration file : /s/x/haproxy.cfg\n\
            [ALERT]    (1) : config : Fatal errors found in configuration.\n";
        assert_eq!(
            super::alerts(output, Path::new("/s/x/haproxy.cfg")),
            "config : parsing [haproxy.cfg:9] : 'bind 127.0.0.1:80' in section 'frontend' : 'crt-list' : inconsistencies between private key and certificate loaded '/s/x/certs/a.pem'."
        );
        assert_eq!(super::alerts("", Path::new("/x")), "haproxy -c failed without a message");
    }
}
