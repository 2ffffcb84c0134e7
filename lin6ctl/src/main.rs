//! lin6ctl: the LIN6 operator's command line. This file only dispatches;
//! each command group is in its own module.

mod addr;
mod cli;
mod dns;
mod ls;
mod map;
mod monitor;
mod netns;
mod node;
mod output;
mod stats;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use cli::{Cli, Command};
use output::{Out, exit, finish};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    let out = Out::new(cli.json, cli.pretty);
    if let Some(name) = &cli.netns
        && let Err(e) = netns::enter(name)
    {
        return finish(Err(e));
    }
    finish(match cli.command {
        Command::Node(c) => node::run(c, &out),
        Command::Map(c) => map::run(c, &out),
        Command::Stats => stats::run(&out),
        Command::Monitor(a) => monitor::run(a, &out),
        Command::Dns(c) => dns::run(c, &out),
        Command::Addr(c) => addr::run(c, &out),
        Command::Ls(c) => ls::run(c, &out),
    })
}

/// `--help` and `--version` go to stdout with status 0. A bad value (an
/// invalid Node ID, prefix or address) is one line on stderr; other usage
/// errors keep clap's hint. All exit with status 2.
fn usage_error(e: clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::from(if e.use_stderr() {
                exit::INVALID
            } else {
                exit::OK
            })
        }
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("invalid value");
            let msg = first.strip_prefix("error: ").unwrap_or(first);
            let _ = writeln!(std::io::stderr(), "lin6ctl: {msg}");
            ExitCode::from(exit::INVALID)
        }
        _ => {
            let _ = e.print();
            ExitCode::from(exit::INVALID)
        }
    }
}
