//! The benchmarks' baseline: the least a Rust program can do, print a
//! constant. `opti-cred token` on a warm cache is measured against it.

fn main() {
    println!("eyJhbGciOiJub25lIn0.baseline.constant");
}
