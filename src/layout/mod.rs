//! Batch layout: the typed indices of a batch ([`Lane`], [`Node`], [`Instance`]) and the index
//! math of its interleaved storage.
//!
//! A batch is many cells (lanes) sharing one structure. Every per-node or per-instance quantity
//! is one flat array holding all lanes side by side: `index = row · lanes_padded + lane`, where
//! a row is a node (for node arrays) or a mechanism instance (for instance arrays). Neighbouring
//! lanes of one row are neighbours in memory, so a loop over lanes (CPU vector units, GPU
//! threads) reads contiguous memory. `lanes_padded` rounds the lane count up to an alignment;
//! padding lanes are simulated like real ones (backends fill them with a copy of a real lane)
//! and their results are dropped.
//!
//! Large batches are cut into [`blocks`] of lanes that are stored and run independently (one
//! rayon task per block on the CPU; one set of buffers within the device limits on a GPU, see
//! [`lanes_per_buffer`]).

use std::ops::Range;

use crate::discretize::NodeId;

/// A lane: one cell of a batch (one parameter set and stimulus).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lane(pub u32);

impl Lane {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A node of the cell's tree (a segment centre or a zero-area section end), in the parent-first
/// order of [`crate::discretize::Discretization::nodes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Node(pub u32);

impl Node {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl From<NodeId> for Node {
    fn from(n: NodeId) -> Node {
        Node(n.0)
    }
}

/// An instance of one mechanism: its position in that mechanism's instance list (instances are
/// in node order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instance(pub u32);

impl Instance {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The interleaved layout of one block of lanes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interleaved {
    lanes: usize,
    lanes_padded: usize,
}

impl Interleaved {
    /// `lanes` real lanes, padded up to a multiple of `align` (at least 1 lane, align ≥ 1).
    pub fn new(lanes: usize, align: usize) -> Interleaved {
        let align = align.max(1);
        let lanes = lanes.max(1);
        Interleaved {
            lanes,
            lanes_padded: lanes.div_ceil(align) * align,
        }
    }

    /// Real lanes.
    pub fn lanes(&self) -> usize {
        self.lanes
    }

    /// Lanes stored per row: the stride between rows.
    pub fn lanes_padded(&self) -> usize {
        self.lanes_padded
    }

    /// Index of `lane` in row `row`.
    #[inline]
    pub fn index(&self, row: usize, lane: Lane) -> usize {
        debug_assert!(lane.index() < self.lanes_padded);
        row * self.lanes_padded + lane.index()
    }

    /// Index of `lane` at node `node` in a per-node array.
    #[inline]
    pub fn node(&self, node: Node, lane: Lane) -> usize {
        self.index(node.index(), lane)
    }

    /// Index of `lane` of instance `inst` in a per-instance array.
    #[inline]
    pub fn instance(&self, inst: Instance, lane: Lane) -> usize {
        self.index(inst.index(), lane)
    }

    /// The index range of row `row` (all padded lanes).
    #[inline]
    pub fn row(&self, row: usize) -> Range<usize> {
        row * self.lanes_padded..(row + 1) * self.lanes_padded
    }

    /// Length of an array of `rows` rows.
    pub fn len(&self, rows: usize) -> usize {
        rows * self.lanes_padded
    }
}

/// Cuts lanes `0..lanes` into consecutive blocks of at most `block_lanes` lanes (at least 1).
pub fn blocks(lanes: usize, block_lanes: usize) -> Vec<Range<usize>> {
    let step = block_lanes.max(1);
    (0..lanes)
        .step_by(step)
        .map(|s| s..(s + step).min(lanes))
        .collect()
}

/// The largest lane count, a multiple of `align`, whose storage (`bytes_per_lane` each) fits in
/// `max_buffer_bytes`; at least `align` (a device that cannot hold one aligned block is a
/// configuration problem the caller reports).
pub fn lanes_per_buffer(bytes_per_lane: usize, max_buffer_bytes: usize, align: usize) -> usize {
    let align = align.max(1);
    let fit = max_buffer_bytes / bytes_per_lane.max(1);
    ((fit / align) * align).max(align)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaved_indices_are_row_major_over_padded_lanes() {
        let l = Interleaved::new(5, 4);
        assert_eq!(l.lanes(), 5);
        assert_eq!(l.lanes_padded(), 8);
        assert_eq!(l.node(Node(0), Lane(3)), 3);
        assert_eq!(l.node(Node(2), Lane(1)), 17);
        assert_eq!(l.instance(Instance(1), Lane(7)), 15);
        assert_eq!(l.row(3), 24..32);
        assert_eq!(l.len(10), 80);
        assert_eq!(Interleaved::new(0, 0).lanes_padded(), 1);
        assert_eq!(Interleaved::new(8, 8).lanes_padded(), 8);
    }

    #[test]
    fn blocks_cover_every_lane_once() {
        assert_eq!(blocks(10, 4), vec![0..4, 4..8, 8..10]);
        assert_eq!(blocks(3, 8), vec![0..3]);
        assert_eq!(blocks(0, 8), Vec::<Range<usize>>::new());
        assert_eq!(blocks(2, 0), vec![0..1, 1..2]);
    }

    #[test]
    fn buffer_packing_respects_the_limit_and_alignment() {
        assert_eq!(lanes_per_buffer(1000, 64_000, 16), 64);
        assert_eq!(lanes_per_buffer(1000, 70_000, 16), 64);
        assert_eq!(lanes_per_buffer(1000, 10_000, 16), 16);
        assert_eq!(lanes_per_buffer(0, 100, 1), 100);
    }
}
