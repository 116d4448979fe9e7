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
    /// Print CRDs: the Gateway API ones Portico reads (crds/gateway-api.yaml) or Portico's own
    /// parameters kinds (crds/portico.yaml).
    Crds {
        #[arg(value_enum, default_value_t = CrdSet::GatewayApi)]
        set: CrdSet,
    },
    /// Run the operator against the cluster in KUBECONFIG (or in-cluster).
    Run(portico::run::RunOptions),
}

#[derive(Clone, Copy, ValueEnum)]
enum CrdSet {
    GatewayApi,
    Portico,
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
        Command::Run(options) => {
            let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("error: cannot start the async runtime: {error}");
                    return ExitCode::from(1);
                }
            };
            match runtime.block_on(portico::run::run(options)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Crds { set } => {
            match set {
                CrdSet::GatewayApi => print!("{}", portico_model::crds::gateway_api_crds_yaml()),
                CrdSet::Portico => print!("{}", portico::portico_crds_yaml()),
            }
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
    let now = plan::now_rfc3339();
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
