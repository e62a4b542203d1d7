"""Who the host is and how fast it computes: machine identity and GEMM probes."""
