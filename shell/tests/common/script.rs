//! The transcript runner lives in the library (`zk_shell::commands::transcript`) so that the
//! differential suite in `tests/` can run the same script against zk-node.

#[allow(unused_imports)]
pub use zk_shell::commands::transcript::EVERY_COMMAND;

/// The normalized transcript of `script` against `connect`.
pub async fn run_script(connect: &str, script: &str) -> String {
    zk_shell::commands::transcript::run_script(connect, script)
        .await
        .expect("connect for the transcript")
}
