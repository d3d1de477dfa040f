//! Sweep binaries as child processes, for the tests that kill, signal or multiply them.

use std::collections::HashMap;

/// A Sweep binary running as a child process (killed when dropped).
pub struct Proc {
    /// The child.
    pub child: tokio::process::Child,
}

impl Proc {
    /// Starts `program` (integration tests pass `env!("CARGO_BIN_EXE_sweep-worker-it")` or
    /// `…sweep-api-it`) with `args` and `env`; `SWEEP__HTTP__BIND` defaults to port 0.
    pub fn start(program: &str, args: &[&str], env: &HashMap<String, String>) -> Self {
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env)
            .env("SWEEP__HTTP__BIND", env.get("SWEEP__HTTP__BIND").cloned().unwrap_or_else(|| "127.0.0.1:0".into()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        Self { child: cmd.spawn().expect("start a sweep process") }
    }

    /// SIGKILL, as an OOM kill or a node failure would.
    pub async fn kill9(&mut self) {
        self.child.start_kill().ok();
        self.child.wait().await.ok();
    }

    /// SIGTERM, then waits for the exit status.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        if let Some(pid) = self.child.id() {
            std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status().ok();
        }
        self.child.wait().await.expect("wait")
    }
}
