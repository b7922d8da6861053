//! emsweep's integration tests: one binary, one module per area, shared fixture helpers in `common`.

mod common;
mod nmodl;
