//! `sweep` built inside the test package, so the CLI tests can run it as a process.

fn main() -> std::process::ExitCode {
    api::client::main()
}
