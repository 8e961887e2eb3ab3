//! Runs the migration engine for the wizard: each [`MigrationCmd`] becomes a task that calls
//! `zk_shell::migrate` and sends what it reports back to the app as [`Msg::Migration`].
//! The engine's progress events travel the same way. One migration at a time; its plan and
//! checkpoint live in zk-top's state directory, so `zksh migrate status --plan FILE` sees the
//! same migration.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use zk_shell::migrate::{self, CutoverOptions, Plan, Progress, RunControl, RunOptions, Sink};

use crate::app::wizard::{MigrationCmd, MigrationMsg};
use crate::app::Msg;

/// Carries out the wizard's commands.
pub struct Runner {
    /// Where plans and checkpoints go.
    dir: PathBuf,
    tx: mpsc::Sender<Msg>,
    /// Steers the running copy/catch-up, while there is one.
    control: Option<watch::Sender<RunControl>>,
    run: Option<JoinHandle<()>>,
}

/// `$XDG_STATE_HOME/zkfleet/migrations`, else `~/.local/state/zkfleet/migrations`.
pub fn default_dir() -> PathBuf {
    let base = match std::env::var_os("XDG_STATE_HOME") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".local/state"))
            .unwrap_or_else(std::env::temp_dir),
    };
    base.join("zkfleet").join("migrations")
}

impl Runner {
    pub fn new(dir: PathBuf, tx: mpsc::Sender<Msg>) -> Runner {
        Runner {
            dir,
            tx,
            control: None,
            run: None,
        }
    }

    /// The plan with its checkpoint in the state directory, written there as TOML.
    fn place(&self, mut plan: Plan) -> Plan {
        let name = plan
            .checkpoint
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "migration.checkpoint.json".into());
        plan.checkpoint = self.dir.join(&name);
        let toml = self.dir.join(name.replace(".checkpoint.json", ".toml"));
        if let Err(e) =
            std::fs::create_dir_all(&self.dir).and_then(|_| std::fs::write(&toml, plan.to_toml()))
        {
            tracing::warn!("cannot write the plan {}: {e}", toml.display());
        }
        plan
    }

    fn sink(&self) -> Sink {
        let tx = self.tx.clone();
        // A full queue drops a progress event; the next one says the same, only newer.
        Arc::new(move |p: Progress| {
            let _ = tx.try_send(Msg::Migration(Box::new(MigrationMsg::Progress(p))));
        })
    }

    /// Stops the running copy/catch-up (at its next checkpoint) and returns its task.
    fn stop_run(&mut self) -> Option<JoinHandle<()>> {
        if let Some(c) = self.control.take() {
            c.send_replace(RunControl::Stop);
        }
        self.run.take()
    }

    pub fn handle(&mut self, cmd: MigrationCmd) {
        let tx = self.tx.clone();
        let sink = self.sink();
        match cmd {
            MigrationCmd::Preflight(plan) => {
                tokio::spawn(async move {
                    let r = migrate::preflight(&plan, sink)
                        .await
                        .map(Box::new)
                        .map_err(|e| e.to_string());
                    let _ = tx
                        .send(Msg::Migration(Box::new(MigrationMsg::Preflight(r))))
                        .await;
                });
            }
            MigrationCmd::Start(plan) => {
                let plan = self.place(plan);
                if let Some(old) = self.stop_run() {
                    old.abort();
                }
                let (control_tx, control) = migrate::control();
                self.control = Some(control_tx);
                self.run = Some(tokio::spawn(async move {
                    let r = migrate::run(&plan, sink, control, RunOptions::default())
                        .await
                        .map_err(|e| e.to_string());
                    let _ = tx
                        .send(Msg::Migration(Box::new(MigrationMsg::RunEnded(r))))
                        .await;
                }));
            }
            MigrationCmd::Pause | MigrationCmd::Resume => {
                let want = if cmd == MigrationCmd::Pause {
                    RunControl::Pause
                } else {
                    RunControl::Run
                };
                if let Some(c) = &self.control {
                    c.send_replace(want);
                }
            }
            MigrationCmd::Verify(plan) => {
                let plan = self.place(plan);
                tokio::spawn(async move {
                    let r = migrate::verify(&plan, sink)
                        .await
                        .map_err(|e| e.to_string());
                    let _ = tx
                        .send(Msg::Migration(Box::new(MigrationMsg::Verified(r))))
                        .await;
                });
            }
            MigrationCmd::Cutover(plan) => {
                let plan = self.place(plan);
                let run = self.stop_run();
                tokio::spawn(async move {
                    wait(run).await;
                    let (_control_tx, control) = migrate::control();
                    // The operator confirmed on the wizard's screen.
                    let mut yes = |_: &str| true;
                    let opts = CutoverOptions {
                        confirm: &mut yes,
                        reverse: false,
                    };
                    let r = migrate::cutover(&plan, sink, control, opts)
                        .await
                        .map_err(|e| e.to_string());
                    let _ = tx
                        .send(Msg::Migration(Box::new(MigrationMsg::CutOver(r))))
                        .await;
                });
            }
            MigrationCmd::Rollback(plan) => {
                let plan = self.place(plan);
                let run = self.stop_run();
                tokio::spawn(async move {
                    wait(run).await;
                    let r = if migrate::status(&plan).is_ok_and(|s| s.state.is_some()) {
                        migrate::rollback(&plan, sink, true)
                            .await
                            .map_err(|e| e.to_string())
                    } else {
                        Ok(Default::default())
                    };
                    let _ = tx
                        .send(Msg::Migration(Box::new(MigrationMsg::RolledBack(r))))
                        .await;
                });
            }
        }
    }

    /// Asks a running migration to stop at its next checkpoint (zk-top is quitting).
    pub fn shutdown(&mut self) {
        let _ = self.stop_run();
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

async fn wait(run: Option<JoinHandle<()>>) {
    if let Some(h) = run {
        let _ = h.await;
    }
}
