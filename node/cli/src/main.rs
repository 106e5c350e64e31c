/// mimalloc instead of glibc's malloc: block building allocates and frees millions of small
/// objects (Merkle tree nodes, write sets, receipts) per block; glibc spent about a tenth of the
/// node's CPU in malloc, free and faulting in fresh pages for them (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    kessai_node::main_with_args()
}
