//! `relais-loadgen`: synthetic calls through a running Relais server, with a report.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use relais_loadgen::direct::{self, DirectConfig};
use relais_loadgen::janus::{self, JanusConfig};
use relais_loadgen::peer::MediaProfile;
use relais_loadgen::run::{RunConfig, run};

/// Which server the calls go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Target {
    /// Relais, through its websocket signalling.
    Relais,
    /// Janus's `videocall` plugin, through its HTTP API (for comparison).
    Janus,
    /// No server: each kiosk peer connects straight to its agent peer (the clients' own
    /// delay, a baseline for the others).
    Direct,
}

/// Drives synthetic kiosk ⇄ agent calls through a Relais server (or Janus's `videocall`
/// plugin) and reports set-up time, one-way delay, loss and the server's CPU per forwarded
/// packet.
#[derive(Debug, Parser)]
#[command(name = "relais-loadgen", version)]
struct Args {
    /// Which server to load.
    #[arg(long, value_enum, default_value = "relais")]
    target: Target,
    /// Janus's HTTP API root (with `--target janus`).
    #[arg(long, default_value = "http://198.18.0.1:8088/janus")]
    janus_url: String,
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// The server's token secret (`auth.secret`), or a file holding it with `@path`
    /// (required with `--target relais`).
    #[arg(long, env = "LOADGEN_SECRET")]
    secret: Option<String>,
    /// Service the kiosks call.
    #[arg(long, default_value = "caf")]
    service: String,
    /// Number of concurrent calls.
    #[arg(long, default_value_t = 4)]
    calls: usize,
    /// Calls started per second.
    #[arg(long, default_value_t = 5.0)]
    ramp: f64,
    /// Seconds of media once the calls are up.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Video packets per second per direction.
    #[arg(long, default_value_t = 110)]
    video_pps: u32,
    /// Video frames per second (a frame's packets leave together).
    #[arg(long, default_value_t = 30)]
    video_fps: u32,
    /// Seconds between video keyframes (5 times a delta frame); 0 for none.
    #[arg(long, default_value_t = 3.0)]
    keyframe_secs: f64,
    /// Audio packets per second per direction.
    #[arg(long, default_value_t = 50)]
    audio_pps: u32,
    /// Address the synthetic browsers bind to.
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// The server's process id, for CPU and memory figures.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Write the report as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // Logs of the WebRTC stack (and ours) on stderr when RUST_LOG asks for them.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let profile = MediaProfile {
        video_pps: args.video_pps,
        video_fps: args.video_fps,
        keyframe_every_frames: (args.keyframe_secs * f64::from(args.video_fps)).round() as u32,
        audio_pps: args.audio_pps,
        ..MediaProfile::default()
    };
    let result = if args.target == Target::Direct {
        direct::run(DirectConfig {
            calls: args.calls,
            media: Duration::from_secs_f64(args.seconds),
            profile,
            bind_ip: args.bind.clone(),
            progress: true,
        })
        .await
    } else if args.target == Target::Janus {
        janus::run(JanusConfig {
            url: args.janus_url.clone(),
            calls: args.calls,
            ramp_per_sec: args.ramp,
            media: Duration::from_secs_f64(args.seconds),
            profile,
            bind_ip: args.bind.clone(),
            server_pid: args.server_pid,
            progress: true,
        })
        .await
    } else {
        let Some(secret) = args.secret.as_deref() else {
            eprintln!("relais-loadgen: --secret (or LOADGEN_SECRET) is required for Relais");
            return ExitCode::from(2);
        };
        let secret = match secret.strip_prefix('@') {
            Some(path) => match std::fs::read_to_string(path) {
                Ok(text) => text.trim().as_bytes().to_vec(),
                Err(err) => {
                    eprintln!("relais-loadgen: cannot read {path}: {err}");
                    return ExitCode::from(2);
                }
            },
            None => secret.as_bytes().to_vec(),
        };
        run(RunConfig {
            server: args.server.trim_end_matches('/').to_owned(),
            secret,
            service: args.service,
            calls: args.calls,
            ramp_per_sec: args.ramp,
            media: Duration::from_secs_f64(args.seconds),
            profile,
            bind_ip: args.bind.clone(),
            server_pid: args.server_pid,
            progress: true,
        })
        .await
    };
    match result {
        Ok(report) => {
            print!("{}", report.table());
            if let Some(path) = args.json {
                let text = serde_json::to_string_pretty(&report).unwrap_or_default();
                if let Err(err) = std::fs::write(&path, text) {
                    eprintln!("relais-loadgen: cannot write {}: {err}", path.display());
                    return ExitCode::FAILURE;
                }
            }
            if report.calls_established < report.calls_requested {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("relais-loadgen: {err:#}");
            ExitCode::FAILURE
        }
    }
}
