//! Morphology: read Neurolucida ASC and SWC files into sections of 3-D points following NEURON's
//! Import3d rules, apply the packages' axon replacements, and name the section lists.
//!
//! Contract used by `discretize` and `package` (keep these names; add fields freely).

use std::fmt;

/// Index of a section in [`Morphology::sections`] (and in `Discretization::sections`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct SectionId(pub u32);

impl SectionId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What a section is; decides its NEURON name (`soma`, `axon`, `dend`, `apic`, `myelin`) and the
/// one base section list it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum SectionKind {
    Soma,
    Axon,
    Basal,
    Apical,
    Myelin,
}

impl SectionKind {
    /// NEURON's section array name in the templates the packages use.
    pub fn neuron_name(self) -> &'static str {
        match self {
            SectionKind::Soma => "soma",
            SectionKind::Axon => "axon",
            SectionKind::Basal => "dend",
            SectionKind::Apical => "apic",
            SectionKind::Myelin => "myelin",
        }
    }

    /// The base section list holding sections of this kind.
    pub fn list(self) -> SectionList {
        match self {
            SectionKind::Soma => SectionList::Somatic,
            SectionKind::Axon => SectionList::Axonal,
            SectionKind::Basal => SectionList::Basal,
            SectionKind::Apical => SectionList::Apical,
            SectionKind::Myelin => SectionList::Myelinated,
        }
    }
}

/// NEURON's section lists of a cell template. `All` holds every section.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum SectionList {
    All,
    Somatic,
    Axonal,
    Basal,
    Apical,
    Myelinated,
}

impl SectionList {
    pub const ALL: [SectionList; 6] = [
        SectionList::All,
        SectionList::Somatic,
        SectionList::Axonal,
        SectionList::Basal,
        SectionList::Apical,
        SectionList::Myelinated,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SectionList::All => "all",
            SectionList::Somatic => "somatic",
            SectionList::Axonal => "axonal",
            SectionList::Basal => "basal",
            SectionList::Apical => "apical",
            SectionList::Myelinated => "myelinated",
        }
    }

    pub fn from_name(name: &str) -> Option<SectionList> {
        Self::ALL.into_iter().find(|l| l.name() == name)
    }

    /// Whether a section of `kind` is a member of this list.
    pub fn contains(self, kind: SectionKind) -> bool {
        self == SectionList::All || kind.list() == self
    }
}

impl fmt::Display for SectionList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which axon replacement a package asks for (PACKAGES.md, "Building the cell").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum AxonReplacement {
    /// Keep the axon of the morphology file.
    None,
    /// SSCx / BluePyEModel: two 30 µm tapered sections (nseg 5) plus a 1000 µm myelin section.
    SscxMyelin,
    /// Thalamus: two 30 µm tapered sections (nseg 5), no myelin.
    Thalamus,
    /// BluePyOpt's default stub: two 30 µm sections with nseg 1.
    BluePyOpt,
}
