//! airlock-shared
