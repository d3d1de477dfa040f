//! `sweep`: everything happens in [`api::client::main`], which the test suite also runs as a
//! separate process.

fn main() -> std::process::ExitCode {
    api::client::main()
}
