//! good_lp glue: the one place that picks the MILP backend (HiGHS).
