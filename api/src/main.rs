//! `sweep-api`: everything happens in [`api::cli::main`], which the test suite also runs as a
//! separate process.

fn main() -> anyhow::Result<()> {
    api::cli::main()
}
