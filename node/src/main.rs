fn main() -> std::process::ExitCode {
    kessai_node::main_with_args()
}
