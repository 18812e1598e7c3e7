//! Links the `opti-cred` binary as a fixed-address (non-PIE) executable on
//! Linux, unless `OPTI_CRED_BUILD_PIE=1` is set at build time.
//!
//! Most of a cache hit is process start-up. A position-independent
//! executable of this size spends a measurable part of it applying
//! relocations to pages that are then copied on write; a fixed-address one
//! applies none. The price is that the executable itself is not placed at a
//! random address (libraries, heap and stack still are). docs/benchmarks.md
//! has the figures and the trade-off.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=OPTI_CRED_BUILD_PIE");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    let pie_wanted = std::env::var("OPTI_CRED_BUILD_PIE").is_ok_and(|v| v == "1");
    if linux && !pie_wanted {
        println!("cargo:rustc-link-arg-bin=opti-cred=-no-pie");
    }
}
