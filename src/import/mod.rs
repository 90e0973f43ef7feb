//! CSV readers (being written).
