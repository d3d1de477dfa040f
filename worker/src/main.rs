//! `sweep-worker`: everything happens in [`worker::main`], which the test suite also runs as a
//! separate process.

fn main() -> anyhow::Result<()> {
    worker::main()
}
