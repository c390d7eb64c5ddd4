//! The `hitless` binary: all logic lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    hitless::cli::main()
}
