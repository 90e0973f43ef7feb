//! Why a patient stayed unmatched (being written).
