//! airlock-sim: a faithful local Entra ID token endpoint and Exchange Online admin endpoint.
