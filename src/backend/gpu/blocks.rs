//! Splitting a mechanism's elements into blocks that fit one storage binding.
//!
//! A mechanism with `columns` columns over `instances` instances × `lanes` (padded) lanes has
//! `instances · lanes` elements; one block holds whole instances, all columns of its elements in
//! one buffer (column-major), and is one binding and one dispatch. Blocks are as large as the
//! binding limit allows, so most mechanisms of a batch are one block.

use super::GpuError;

/// A run of whole instances stored and dispatched together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub first_instance: usize,
    pub instances: usize,
}

impl Block {
    /// Elements of the block (`instances · lanes`).
    pub fn elements(&self, lanes: usize) -> usize {
        self.instances * lanes
    }
}

/// The blocks of `instances` instances × `lanes` lanes × `columns` f32 columns, each at most
/// `max_binding_bytes`. An error when one instance alone does not fit.
pub fn plan_blocks(
    columns: usize,
    instances: usize,
    lanes: usize,
    max_binding_bytes: u64,
) -> Result<Vec<Block>, GpuError> {
    let bytes_per_instance = (columns.max(1) * lanes * std::mem::size_of::<f32>()) as u64;
    let per_block = (max_binding_bytes / bytes_per_instance.max(1)) as usize;
    if per_block == 0 {
        return Err(GpuError::TooLarge(format!(
            "one instance of {columns} columns × {lanes} lanes needs {bytes_per_instance} bytes, \
             more than one binding ({max_binding_bytes} bytes): use fewer lanes per batch"
        )));
    }
    let mut out = Vec::new();
    let mut first = 0;
    while first < instances {
        let n = per_block.min(instances - first);
        out.push(Block {
            first_instance: first,
            instances: n,
        });
        first += n;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_hold_whole_instances_within_the_limit() {
        let limit = 128u64 << 20;
        let b = plan_blocks(20, 300, 1024, limit).unwrap();
        assert_eq!(b.len(), 1);
        // 40 columns × 4096 lanes × 4 B = 640 KiB per instance: 204 instances per block
        let b = plan_blocks(40, 500, 4096, limit).unwrap();
        assert_eq!(b.iter().map(|x| x.instances).sum::<usize>(), 500);
        assert_eq!(b[0].instances, 204);
        for x in &b {
            assert!((x.elements(4096) * 40 * 4) as u64 <= limit);
        }
        assert_eq!(b[1].first_instance, 204);
        assert!(plan_blocks(40, 1, 1 << 20, limit).is_err());
        assert!(plan_blocks(3, 0, 64, limit).unwrap().is_empty());
    }
}
