//! The differential framework: a scenario is an async function over a [`Cx`] that performs
//! operations against one server and records what it sees as normalized text lines (a
//! transcript). The runner plays every scenario against two servers, compares the transcripts and
//! reports each scenario whose transcripts differ, with both transcripts side by side.

mod cx;
pub mod norm;
mod report;
mod runner;

pub use cx::Cx;
pub use norm::{Norm, Normalizer};
pub use report::{diff_lines, Report};
pub use runner::{run_differential, Scenario, ScenarioFn};

/// Builds a [`Scenario`] from `module::function`, named `module/function`.
///
/// ```ignore
/// scenario!(create::persistent)
/// scenario!(watch::persistent_then_standard, known = "ZOOKEEPER-4466: 3.8 overwrites ...")
/// ```
#[macro_export]
macro_rules! scenario {
    ($m:ident :: $f:ident) => {
        $crate::diff::Scenario {
            name: concat!(stringify!($m), "/", stringify!($f)),
            run: |cx| Box::pin($m::$f(cx)),
            known_divergence: None,
        }
    };
    ($m:ident :: $f:ident, known = $why:expr) => {
        $crate::diff::Scenario {
            name: concat!(stringify!($m), "/", stringify!($f)),
            run: |cx| Box::pin($m::$f(cx)),
            known_divergence: Some($why),
        }
    };
}
