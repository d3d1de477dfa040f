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

/// What a command run to its end by [`run`] left.
#[derive(Debug)]
pub struct Finished {
    /// The exit code (`None`: ended by a signal).
    pub code: Option<i32>,
    /// Everything it wrote to stdout.
    pub stdout: String,
    /// Everything it wrote to stderr.
    pub stderr: String,
}

impl Finished {
    /// stdout parsed as one JSON document (panics, showing both streams, when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self}"))
    }
}

impl std::fmt::Display for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {:?}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Runs `program` with `args` and only `env` (and `PATH`), `stdin` as its standard input (none:
/// `/dev/null`; never a terminal), until it exits; panics if that takes longer than `deadline`
/// (the child is killed).
pub async fn run(
    program: &str,
    args: &[&str],
    env: &HashMap<String, String>,
    stdin: Option<&[u8]>,
    deadline: std::time::Duration,
) -> Finished {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env)
        .stdin(if stdin.is_some() { std::process::Stdio::piped() } else { std::process::Stdio::null() })
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("start the command");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(input).await.expect("write stdin");
    }
    let output = tokio::time::timeout(deadline, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{program} {args:?} did not exit within {deadline:?}"))
        .expect("wait for the command");
    Finished {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
