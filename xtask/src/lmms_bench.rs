//! The programs behind ipc-latency's `lmms_*` rows (`adapters/lmms/bench`,
//! read by benches/src/bin/ipc-latency/lmms.rs): built against a release
//! libipc, linked statically, optimised and without the tests' sanitizers,
//! into `target/lmms-bench`, where the rows look for them.

use crate::c_cpp::{cmake, install_at};
use crate::ci::Step;

/// The adapter's CMake project; the bench programs are its `bench/`.
const ADAPTER: &str = "adapters/lmms";
/// Where the rows look (under the target directory).
const DIR: &str = "lmms-bench";

fn s(path: &std::path::Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Installs a release libipc into `target/lmms-bench/prefix` and builds
/// `ipc_lmms_bench` and its two plugin programs into `target/lmms-bench`.
pub(crate) fn build(step: &mut Step) {
    let ctx = step.ctx;
    let out = ctx.target.join(DIR);
    let Some(prefix) = install_at(step, &out.join("prefix"), None, true) else {
        return;
    };
    let defs = [
        format!("-DCMAKE_PREFIX_PATH={}", s(&prefix)),
        "-DIPC_LMMS_BENCH=ON".to_owned(),
        // No tests: they would bring the sanitizers into this build.
        "-DIPC_LMMS_TESTS=OFF".to_owned(),
        "-DIPC_LMMS_STATIC=ON".to_owned(),
        // Release (NDEBUG); the project adds -O2 after its flags.
        "-DCMAKE_BUILD_TYPE=Release".to_owned(),
    ];
    cmake(step, &ctx.root.join(ADAPTER), &out, &defs);
}
