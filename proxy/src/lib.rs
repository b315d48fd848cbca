//! airlock-proxy: the privileged credential proxy.
