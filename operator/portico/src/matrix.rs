//! The provider feature matrix, rendered from the providers' own capability declarations.
//! `docs/providers.md` embeds it; a test fails when the two disagree.

use portico_model::{Capabilities, Fact, Feature, ListenerProtocol};

pub const BEGIN_MARKER: &str = "<!-- BEGIN GENERATED MATRIX: `portico capabilities` -->";
pub const END_MARKER: &str = "<!-- END GENERATED MATRIX -->";

/// A Markdown table: one row per protocol, feature, fact and limit; one column per provider.
pub fn render(providers: &[Capabilities]) -> String {
    let mut out = String::new();
    out.push_str("| | ");
    out.push_str(&providers.iter().map(|p| format!("`{}`", p.provider.controller_name())).collect::<Vec<_>>().join(" | "));
    out.push_str(" |\n|---|");
    out.push_str(&"---|".repeat(providers.len()));
    out.push('\n');
    let mark = |yes: bool| if yes { "yes" } else { "no" };
    for protocol in ListenerProtocol::ALL {
        row(&mut out, &format!("Listener protocol {protocol}"), providers.iter().map(|p| mark(p.supports_protocol(*protocol)).to_string()));
    }
    for feature in Feature::ALL {
        row(&mut out, &format!("`{feature}`"), providers.iter().map(|p| mark(p.supports(*feature)).to_string()));
    }
    for fact in Fact::ALL {
        row(&mut out, &format!("{fact}"), providers.iter().map(|p| mark(p.has(*fact)).to_string()));
    }
    row(&mut out, "Redirect status codes", providers.iter().map(|p| p.redirect_status_codes.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")));
    row(
        &mut out,
        "Retried status codes (`retry.codes`)",
        providers.iter().map(|p| p.retry_status_codes.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")),
    );
    let limit = |l: Option<u32>| l.map_or("none".to_string(), |v| v.to_string());
    row(&mut out, "Max condition values per rule", providers.iter().map(|p| limit(p.limits.max_condition_values_per_rule)));
    row(&mut out, "Max weighted backends per rule", providers.iter().map(|p| limit(p.limits.max_backends_per_rule)));
    out
}

fn row(out: &mut String, label: &str, cells: impl Iterator<Item = String>) {
    out.push_str("| ");
    out.push_str(label);
    for cell in cells {
        out.push_str(" | ");
        out.push_str(&cell);
    }
    out.push_str(" |\n");
}

/// The generated part of a document, between the markers.
pub fn embedded(doc: &str) -> Option<&str> {
    let start = doc.find(BEGIN_MARKER)? + BEGIN_MARKER.len();
    let end = doc[start..].find(END_MARKER)? + start;
    Some(doc[start..end].trim())
}
