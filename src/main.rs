//! Thin binary: parse, run, turn the outcome into an exit status.
use bc_customers::exit::Exit;

fn main() {
    let cli = match bc_customers::cli::parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            std::process::exit(if e.use_stderr() {
                Exit::Usage.code()
            } else {
                0
            });
        }
    };
    let code = match bc_customers::run(cli) {
        Ok(exit) => exit.code(),
        Err(err) => {
            eprintln!("error: {err:#}");
            if bc_customers::exit::is_usage(&err) {
                Exit::Usage.code()
            } else {
                Exit::Fatal.code()
            }
        }
    };
    std::process::exit(code);
}
