#![forbid(unsafe_code)]
//! `portico`: the Gateway API operator (run) and its offline tools (plan, capabilities).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use portico::plan::{self, ObjectDetail};
use portico_provider::Registered;

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
        /// Print counts and only the objects whose status reports a problem (no IR, no native
        /// plans): for inputs too large to read whole.
        #[arg(long)]
        summary: bool,
    },
    /// Print the provider feature matrix (as embedded in docs/providers.md).
    Capabilities,
    /// Print CRDs: the Gateway API ones Portico reads (crds/gateway-api.yaml) or Portico's own
    /// parameters kinds (crds/portico.yaml).
    Crds {
        #[arg(value_enum, default_value_t = CrdSet::GatewayApi)]
        set: CrdSet,
    },
    /// Print the cloud permissions a provider needs for one cluster: an IAM policy document for
    /// aws, a custom role (gcloud iam roles create --file) for gcp.
    Permissions {
        /// The provider (`aws`, `gcp`).
        provider: String,
        /// The cluster name Portico runs with (`--cluster-name`): mutations are limited to
        /// resources tagged with it.
        #[arg(long)]
        cluster_name: String,
    },
    /// Run the operator against the cluster in KUBECONFIG (or in-cluster).
    Run(Box<Run>),
}

#[derive(clap::Args)]
struct Run {
    /// Providers this replica programs (GatewayClasses of other providers are left alone).
    #[arg(long = "provider", value_delimiter = ',', default_value = "haproxy", env = "PORTICO_PROVIDERS")]
    providers: Vec<String>,
    #[command(flatten)]
    options: portico::run::RunOptions,
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

/// The command line: the derived commands, with each registered provider's flags on `run`.
fn command() -> clap::Command {
    let registry = portico_cli::registry();
    Cli::command().mut_subcommand("run", |run| registry.descriptors().fold(run, |run, d| (d.args)(run)))
}

/// The providers `--provider` names, each configured from its flags.
fn selected(run: &Run, matches: &clap::ArgMatches) -> Result<Vec<Registered>, String> {
    let registry = portico_cli::registry();
    let mut out = Vec::new();
    for name in run.providers.iter().map(|p| p.trim()) {
        let Some(descriptor) = registry.by_name(name) else {
            return Err(format!("unknown provider {name:?} (this build has: {})", registry.names().join(", ")));
        };
        out.push(Registered::new(descriptor, (descriptor.configure)(matches)?));
    }
    Ok(out)
}

fn main() -> ExitCode {
    let matches = command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    match cli.command {
        Command::Plan { files, output, summary } => run_plan(&files, output, summary),
        Command::Run(run) => {
            let run_matches = matches.subcommand_matches("run").cloned().unwrap_or_default();
            let providers = match selected(&run, &run_matches) {
                Ok(providers) => providers,
                Err(error) => {
                    eprintln!("error: {error}");
                    return ExitCode::from(2);
                }
            };
            let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("error: cannot start the async runtime: {error}");
                    return ExitCode::from(1);
                }
            };
            let options = run.options;
            match runtime.block_on(portico::run::run(options, providers)) {
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
                CrdSet::Portico => print!("{}", portico_cli::registry().crds_yaml()),
            }
            ExitCode::SUCCESS
        }
        Command::Permissions { provider, cluster_name } => {
            let registry = portico_cli::registry();
            let Some(descriptor) = registry.by_name(&provider) else {
                eprintln!("error: unknown provider {provider:?} (this build has: {})", registry.names().join(", "));
                return ExitCode::from(2);
            };
            match (descriptor.permissions)(&cluster_name) {
                Some(document) => {
                    print!("{document}");
                    ExitCode::SUCCESS
                }
                None => {
                    eprintln!("the {provider} provider needs no cloud permissions");
                    ExitCode::from(2)
                }
            }
        }
        Command::Capabilities => {
            let providers: Vec<_> = portico_cli::registry().descriptors().map(|d| (d.capabilities)()).collect();
            print!("{}", portico::matrix::render(&providers));
            ExitCode::SUCCESS
        }
    }
}

fn run_plan(files: &[PathBuf], output: Format, summary: bool) -> ExitCode {
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
    let registry = portico_cli::registry();
    let written = if summary {
        let summary = portico_translate::summary::summary(&loaded, &registry.planners(plan::PLAN_CLUSTER), &now);
        drop(loaded);
        print_document(&summary, output)
    } else {
        let document = plan::document(&loaded, &registry, &now, ObjectDetail::Full);
        drop(loaded);
        print_document(&document, output)
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: cannot print the plan: {error}");
            ExitCode::from(1)
        }
    }
}

/// Serialize straight to standard output (never the whole text in memory first).
fn print_document<T: serde::Serialize>(document: &T, output: Format) -> Result<(), String> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match output {
        Format::Yaml => serde_yaml::to_writer(&mut out, document).map_err(|e| e.to_string())?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, document).map_err(|e| e.to_string())?;
            out.write_all(b"\n").map_err(|e| e.to_string())?;
        }
    }
    out.flush().map_err(|e| e.to_string())
}
