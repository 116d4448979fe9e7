#![forbid(unsafe_code)]
//! `portico`: the Gateway API operator (run) and its offline tools (plan, capabilities).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use portico::plan::{self, ObjectDetail};

#[derive(Parser)]
#[command(name = "portico", version, about = "Gateway API on real load balancers")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Translate Gateway API objects from files, without a cluster: print each owned object with
    /// the status the operator would write, and each Gateway's provider-neutral IR.
    Plan {
        /// A YAML/JSON file (one or more documents) or a directory, read recursively in sorted order.
        #[arg(short = 'f', long = "filename", required = true)]
        files: Vec<PathBuf>,
        #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Yaml)]
        output: Format,
    },
    /// Print the provider feature matrix (as embedded in docs/providers.md).
    Capabilities,
    /// Print the Gateway API CRDs Portico reads (as in crds/gateway-api.yaml).
    Crds,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Yaml,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Plan { files, output } => run_plan(&files, output),
        Command::Crds => {
            print!("{}", portico_model::crds::gateway_api_crds_yaml());
            ExitCode::SUCCESS
        }
        Command::Capabilities => {
            let caps = portico::all_capabilities();
            let providers: Vec<_> = portico_model::ProviderKind::ALL.iter().filter_map(|p| caps.get(*p).cloned()).collect();
            print!("{}", portico::matrix::render(&providers));
            ExitCode::SUCCESS
        }
    }
}

fn run_plan(files: &[PathBuf], output: Format) -> ExitCode {
    let loaded = match portico_model::load::load_paths(files) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    for note in &loaded.notes {
        eprintln!("note: {note}");
    }
    let now = now_rfc3339();
    let document = plan::document(&loaded, &portico::all_capabilities(), &now, ObjectDetail::Full);
    let text = match output {
        Format::Yaml => serde_yaml::to_string(&document).map_err(|e| e.to_string()),
        Format::Json => serde_json::to_string_pretty(&document).map(|t| t + "\n").map_err(|e| e.to_string()),
    };
    match text {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: cannot print the plan: {error}");
            ExitCode::from(1)
        }
    }
}

/// The current UTC time as RFC 3339 (seconds), for conditions that changed.
fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let days = secs / 86_400;
    let (h, m, s) = (secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    // Civil-from-days (proleptic Gregorian), after Howard Hinnant's algorithm.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}
