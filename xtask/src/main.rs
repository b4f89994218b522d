//! `cargo xtask`: the project's command line (filled by its issue).

fn main() {
    eprintln!("usage: cargo xtask <reproduce|gradcheck> ...");
    std::process::exit(2);
}
