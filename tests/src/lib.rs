//! airlock-e2e: shared test harness
