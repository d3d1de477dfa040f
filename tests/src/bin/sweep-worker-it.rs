//! `sweep-worker` built inside the test package, so end-to-end tests can run it as a process.

fn main() -> anyhow::Result<()> {
    worker::main()
}
