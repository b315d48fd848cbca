//! The simulator's shared state: tenants (apps, roles, directory), clock, issuer, counters and
//! faults. Built once from the fixture; mutated only through handlers and the control API.

use std::collections::{HashMap, HashSet};

use parking_lot::{Mutex, RwLock};
use uuid::Uuid;

use crate::SimError;
use crate::clock::SimClock;
use crate::counters::Counters;
use crate::directory::Directory;
use crate::entra::assertion::RegisteredCert;
use crate::entra::issuer::Issuer;
use crate::faults::FaultState;
use crate::fixture::{AppSpec, Fixture, Settings, TenantSpec, ThrottleSpec};

/// Built-in management roles (name → cmdlets); `*` allows every cmdlet.
const BUILTIN_ROLES: &[(&str, &[&str])] = &[
    ("Application Exchange Full Access", &["*"]),
    ("Exchange Administrator", &["*"]),
    ("Organization Management", &["*"]),
    (
        "Mail Recipients",
        &[
            "Get-Mailbox",
            "Set-Mailbox",
            "Get-Recipient",
            "Get-MailboxAutoReplyConfiguration",
            "Set-MailboxAutoReplyConfiguration",
            "Get-MailboxPermission",
            "Add-MailboxPermission",
            "Remove-MailboxPermission",
            "Get-RecipientPermission",
            "Add-RecipientPermission",
            "Remove-RecipientPermission",
        ],
    ),
    (
        "Distribution Groups",
        &[
            "Get-DistributionGroup",
            "New-DistributionGroup",
            "Set-DistributionGroup",
            "Remove-DistributionGroup",
            "Get-DistributionGroupMember",
            "Add-DistributionGroupMember",
            "Remove-DistributionGroupMember",
            "Update-DistributionGroupMember",
            "Get-Recipient",
        ],
    ),
    (
        "View-Only Configuration",
        &["Get-OrganizationConfig", "Get-AcceptedDomain"],
    ),
    (
        "View-Only Recipients",
        &[
            "Get-Mailbox",
            "Get-Recipient",
            "Get-DistributionGroup",
            "Get-DistributionGroupMember",
            "Get-MailboxPermission",
            "Get-RecipientPermission",
            "Get-MailboxAutoReplyConfiguration",
        ],
    ),
];

/// Mutable Exchange-side and credential state of one app.
#[derive(Debug, Clone)]
pub(crate) struct AppLive {
    /// Secret IDs forced to expired by the control API.
    pub expired_secrets: HashSet<Uuid>,
    /// `New-ServicePrincipal` done.
    pub sp_registered: bool,
    /// Simulator time (Unix ms) from which Exchange honours the registration and roles.
    pub sp_effective_ms: i64,
    /// Assigned role names.
    pub roles: Vec<String>,
    /// A role change not yet propagated: the new roles and when they take effect (Unix ms).
    pub pending_roles: Option<(Vec<String>, i64)>,
}

impl AppLive {
    /// The roles in effect at `now_ms` (promotes a propagated pending change).
    pub(crate) fn effective_roles(&mut self, now_ms: i64) -> Vec<String> {
        if let Some((roles, at)) = self.pending_roles.take() {
            if at <= now_ms {
                self.roles = roles;
            } else {
                self.pending_roles = Some((roles, at));
            }
        }
        self.roles.clone()
    }
}

/// One app registration at run time.
#[derive(Debug)]
pub(crate) struct AppState {
    pub spec: AppSpec,
    pub certs: Vec<RegisteredCert>,
    pub live: Mutex<AppLive>,
}

/// Per-app throttling window.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    pub window_start_ms: i64,
    pub used: u32,
}

/// One tenant at run time.
#[derive(Debug)]
pub(crate) struct TenantState {
    pub id: Uuid,
    pub domains: Vec<String>,
    pub display_name: String,
    pub apps: Vec<AppState>,
    /// Lower-case role name → lower-case cmdlets.
    pub roles: HashMap<String, Vec<String>>,
    pub directory: RwLock<Directory>,
    pub throttle: ThrottleSpec,
    pub budgets: Mutex<HashMap<Uuid, Budget>>,
}

impl TenantState {
    /// Whether `segment` (GUID or domain) names this tenant.
    pub(crate) fn matches(&self, segment: &str) -> bool {
        Uuid::parse_str(segment)
            .map(|u| u == self.id)
            .unwrap_or(false)
            || self.domains.iter().any(|d| d.eq_ignore_ascii_case(segment))
    }

    pub(crate) fn app(&self, app_id: &str) -> Option<&AppState> {
        let id = Uuid::parse_str(app_id).ok()?;
        self.apps.iter().find(|a| a.spec.app_id == id)
    }

    /// Whether any of `roles` allows `cmdlet`.
    pub(crate) fn roles_allow(&self, roles: &[String], cmdlet: &str) -> bool {
        let cmdlet = cmdlet.to_ascii_lowercase();
        roles.iter().any(|r| {
            self.roles
                .get(&r.to_ascii_lowercase())
                .is_some_and(|c| c.iter().any(|x| x == "*" || *x == cmdlet))
        })
    }
}

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct SimState {
    pub settings: Settings,
    pub tenants: Vec<TenantState>,
    pub clock: SimClock,
    pub issuer: Issuer,
    pub counters: Counters,
    pub faults: FaultState,
    /// `https://127.0.0.1:PORT`, set once bound.
    pub base_url: RwLock<String>,
}

impl SimState {
    pub(crate) fn new(fixture: Fixture) -> Result<SimState, SimError> {
        let clock = SimClock::default();
        let now_ms = clock.unix_ms();
        let created = clock
            .now()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let tenants = fixture
            .tenants
            .iter()
            .map(|spec| tenant_state(spec, now_ms, &created))
            .collect::<Result<_, _>>()?;
        Ok(SimState {
            settings: fixture.settings,
            tenants,
            clock,
            issuer: Issuer::generate()?,
            counters: Counters::default(),
            faults: FaultState::default(),
            base_url: RwLock::new(String::new()),
        })
    }

    /// The tenant named by a path segment (GUID or domain).
    pub(crate) fn tenant(&self, segment: &str) -> Option<&TenantState> {
        self.tenants.iter().find(|t| t.matches(segment))
    }

    /// The tenant and app of a client ID, searching all tenants.
    pub(crate) fn find_app(&self, app_id: Uuid) -> Option<(&TenantState, &AppState)> {
        self.tenants.iter().find_map(|t| {
            t.apps
                .iter()
                .find(|a| a.spec.app_id == app_id)
                .map(|a| (t, a))
        })
    }

    pub(crate) fn base_url(&self) -> String {
        self.base_url.read().clone()
    }
}

fn role_table(spec: &TenantSpec) -> HashMap<String, Vec<String>> {
    let lower = |v: &[&str]| v.iter().map(|x| x.to_ascii_lowercase()).collect::<Vec<_>>();
    let mut roles: HashMap<String, Vec<String>> = BUILTIN_ROLES
        .iter()
        .map(|(n, c)| (n.to_ascii_lowercase(), lower(c)))
        .collect();
    for r in &spec.roles {
        roles.insert(
            r.name.to_ascii_lowercase(),
            r.cmdlets.iter().map(|x| x.to_ascii_lowercase()).collect(),
        );
    }
    roles
}

fn tenant_state(spec: &TenantSpec, now_ms: i64, created: &str) -> Result<TenantState, SimError> {
    let directory = Directory::from_spec(spec, created)?;
    let apps = spec
        .apps
        .iter()
        .map(|a| app_state(a, now_ms))
        .collect::<Result<_, _>>()?;
    Ok(TenantState {
        id: spec.id,
        domains: spec.domains.clone(),
        display_name: spec
            .display_name
            .clone()
            .unwrap_or_else(|| spec.domains[0].clone()),
        apps,
        roles: role_table(spec),
        directory: RwLock::new(directory),
        throttle: spec.throttle.clone(),
        budgets: Mutex::new(HashMap::new()),
    })
}

fn app_state(spec: &AppSpec, now_ms: i64) -> Result<AppState, SimError> {
    let certs = spec
        .certificates
        .iter()
        .map(|c| {
            RegisteredCert::from_pem(c.pem.as_deref().unwrap_or_default())
                .map_err(|e| SimError::Fixture(format!("app {}: {e}", spec.app_id)))
        })
        .collect::<Result<_, _>>()?;
    let delay = i64::try_from(spec.exchange.propagation_delay_secs).unwrap_or(i64::MAX / 2000);
    Ok(AppState {
        spec: spec.clone(),
        certs,
        live: Mutex::new(AppLive {
            expired_secrets: HashSet::new(),
            sp_registered: spec.exchange.registered,
            sp_effective_ms: now_ms + delay * 1000,
            roles: spec.exchange.roles.clone(),
            pending_roles: None,
        }),
    })
}
