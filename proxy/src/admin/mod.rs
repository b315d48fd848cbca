//! The ConnectionAdmin gRPC service (admin role): the seed's "Connect" form made real.
//!
//! - [`validate`] — field checks; every rejection names the field and the remedy.
//! - [`convert`] — records → API messages (never a secret) and the one error mapping.
//! - [`probe`] — TestConnection's Exchange read call and its diagnosis.
//! - [`events`] — the before-answer event hook part 2's audit log plugs into.

pub mod convert;
pub mod events;
pub mod probe;
pub mod validate;

use std::sync::Arc;
use std::time::Instant;

use airlock_proto as pb;
use airlock_proto::connection_admin_service_server::ConnectionAdminService;
use airlock_shared::identity::CallerIdentity;
use time::OffsetDateTime;
use tonic::{Request, Response, Status};
use zeroize::Zeroize;

use crate::audit::names;
use crate::pem;
use crate::store::{AuthKind, ConnectionRecord, Credential, Vault};
use crate::tokens::TokenCache;
use convert::AdminError;

/// The service. Cheap to clone.
#[derive(Clone)]
pub struct ConnectionAdmin {
    vault: Vault,
    tokens: Arc<TokenCache>,
    http: reqwest::Client,
    events: Arc<dyn events::AdminEvents>,
    sessions: Option<crate::sessions::Revocations>,
}

impl std::fmt::Debug for ConnectionAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionAdmin")
            .field("vault", &self.vault)
            .finish_non_exhaustive()
    }
}

/// A validated credential with what it changes in the record.
struct NewCredential {
    credential: Credential,
    auth: AuthKind,
    certificate: Option<crate::store::CertificateMeta>,
    warnings: Vec<String>,
}

impl ConnectionAdmin {
    /// A service over `vault`, dropping tokens from `tokens`, probing Exchange with `http`.
    pub fn new(vault: Vault, tokens: Arc<TokenCache>, http: reqwest::Client) -> Self {
        Self {
            vault,
            tokens,
            http,
            events: Arc::new(events::LogEvents),
            sessions: None,
        }
    }

    /// Drops deleted connections' sessions from `revocations` (the store revokes them).
    pub fn with_revocations(mut self, revocations: crate::sessions::Revocations) -> Self {
        self.sessions = Some(revocations);
        self
    }

    /// Sends every security-relevant decision to `events` before answering (part 2: audit).
    pub fn with_events(mut self, events: Arc<dyn events::AdminEvents>) -> Self {
        self.events = events;
        self
    }

    /// A recorder for one call of `event` by `actor`.
    fn recorder(&self, event: &'static str, actor: Option<CallerIdentity>) -> events::Recorder {
        events::Recorder::new(self.events.clone(), event, actor)
    }

    /// Validates the request's credential and zeroizes its secret text in the request.
    fn take_credential(cred: Option<pb::Credential>) -> Result<NewCredential, AdminError> {
        let kind = cred
            .and_then(|c| c.kind)
            .ok_or_else(validate::missing_credential)?;
        match kind {
            pb::credential::Kind::ClientSecret(mut s) => {
                let checked = validate::client_secret(&s);
                if let Err(e) = checked {
                    s.zeroize();
                    return Err(e.into());
                }
                Ok(NewCredential {
                    credential: Credential::ClientSecret(airlock_shared::SecretString::new(s)),
                    auth: AuthKind::ClientSecret,
                    certificate: None,
                    warnings: Vec::new(),
                })
            }
            pb::credential::Kind::Certificate(mut c) => {
                let alg = convert::algorithm_from_pb(c.assertion_algorithm);
                let parsed = pem::parse(&c.pem, alg, OffsetDateTime::now_utc());
                c.pem.zeroize();
                let parsed = parsed?;
                Ok(NewCredential {
                    credential: parsed.key,
                    auth: AuthKind::Certificate,
                    certificate: Some(parsed.meta),
                    warnings: parsed.warnings,
                })
            }
        }
    }

    fn environment(env: Option<&pb::Environment>) -> Result<(String, String), AdminError> {
        let (a, e) = env.map_or(("", ""), |e| {
            (e.authority_host.as_str(), e.exchange_host.as_str())
        });
        Ok((
            validate::host_url("environment.authority_host", a, validate::DEFAULT_AUTHORITY)?,
            validate::host_url("environment.exchange_host", e, validate::DEFAULT_EXCHANGE)?,
        ))
    }

    async fn create(
        &self,
        req: pb::CreateConnectionRequest,
        rec: &events::Recorder,
    ) -> Result<pb::CreateConnectionResponse, AdminError> {
        let instance_name = validate::instance_name(&req.instance_name)?;
        let tenant_id = validate::tenant_id(&req.tenant_id)?;
        let app_id = validate::app_id(&req.app_id)?;
        let organization = validate::organization(&req.organization)?;
        let (authority_host, exchange_host) = Self::environment(req.environment.as_ref())?;
        let new = Self::take_credential(req.credential)?;
        let now = OffsetDateTime::now_utc();
        let record = ConnectionRecord {
            id: uuid::Uuid::new_v4(),
            instance_name,
            tenant_id,
            app_id,
            organization,
            auth: new.auth,
            authority_host,
            exchange_host,
            certificate: new.certificate,
            create_time: now,
            update_time: now,
            credential_rotate_time: now,
            version: 1,
            credential_version: 1,
        };
        let gate = rec.gate(record.id);
        let record = self
            .vault
            .create_gated(record, &new.credential, gate)
            .await?;
        tracing::info!(connection.id = %record.id, auth = ?record.auth, "connection created");
        Ok(pb::CreateConnectionResponse {
            connection: Some(convert::connection(&record)),
            warnings: new.warnings,
        })
    }

    #[tracing::instrument(skip_all, fields(connection.id = %req.connection_id))]
    async fn update(
        &self,
        req: pb::UpdateConnectionRequest,
        rec: &events::Recorder,
    ) -> Result<pb::UpdateConnectionResponse, AdminError> {
        let id = validate::connection_id(&req.connection_id)?;
        let name = req
            .instance_name
            .as_deref()
            .map(validate::instance_name)
            .transpose()?;
        let org = req
            .organization
            .as_deref()
            .map(validate::organization)
            .transpose()?;
        let env = req
            .environment
            .as_ref()
            .map(|e| Self::environment(Some(e)))
            .transpose()?;
        let record = self
            .vault
            .update_gated(
                id,
                |r| {
                    if let Some(n) = name {
                        r.instance_name = n;
                    }
                    if let Some(o) = org {
                        r.organization = o;
                    }
                    if let Some((a, e)) = env {
                        r.authority_host = a;
                        r.exchange_host = e;
                    }
                },
                rec.gate(id),
            )
            .await?;
        self.tokens.invalidate(id);
        tracing::info!(connection.id = %id, "connection updated");
        Ok(pb::UpdateConnectionResponse {
            connection: Some(convert::connection(&record)),
        })
    }

    #[tracing::instrument(skip_all, fields(connection.id = %req.connection_id))]
    async fn rotate(
        &self,
        req: pb::RotateCredentialRequest,
        rec: &events::Recorder,
    ) -> Result<pb::RotateCredentialResponse, AdminError> {
        let id = validate::connection_id(&req.connection_id)?;
        let new = Self::take_credential(req.credential)?;
        let (auth, cert) = (new.auth, new.certificate);
        let change = move |r: &mut ConnectionRecord| {
            r.auth = auth;
            r.certificate = cert;
        };
        let record = self
            .vault
            .rotate_gated(id, &new.credential, change, rec.gate(id))
            .await?;
        self.tokens.invalidate(id);
        tracing::info!(connection.id = %id, auth = ?record.auth, "credential rotated; cached token dropped");
        Ok(pb::RotateCredentialResponse {
            connection: Some(convert::connection(&record)),
            warnings: new.warnings,
        })
    }

    async fn list(
        &self,
        req: pb::ListConnectionsRequest,
    ) -> Result<pb::ListConnectionsResponse, AdminError> {
        let size = validate::page_size(req.page_size)?;
        let after = validate::page_token(&req.page_token)?;
        let rows = self.vault.list(after, size + 1).await?;
        let more = rows.len() > size as usize;
        let page: Vec<_> = rows.into_iter().take(size as usize).collect();
        let next_page_token = match (more, page.last()) {
            (true, Some((pos, _))) => pos.to_string(),
            _ => String::new(),
        };
        Ok(pb::ListConnectionsResponse {
            connections: page.iter().map(|(_, r)| convert::connection(r)).collect(),
            next_page_token,
        })
    }

    #[tracing::instrument(skip_all, fields(connection.id = %req.connection_id))]
    async fn delete(
        &self,
        req: pb::DeleteConnectionRequest,
        rec: &events::Recorder,
    ) -> Result<pb::DeleteConnectionResponse, AdminError> {
        let id = validate::connection_id(&req.connection_id)?;
        let revoked = self.vault.delete_gated(id, rec.gate(id)).await?;
        self.tokens.invalidate(id);
        if let Some(s) = &self.sessions {
            s.connection_deleted(id).await;
        }
        tracing::info!(connection.id = %id, revoked, "connection deleted; its sessions revoked");
        Ok(pb::DeleteConnectionResponse {
            revoked_sessions: u32::try_from(revoked).unwrap_or(u32::MAX),
        })
    }

    /// TestConnection: token step, then the Exchange step; failures are a diagnosis, not an error.
    #[tracing::instrument(skip_all, fields(connection.id = %id))]
    pub async fn test(&self, id: uuid::Uuid) -> Result<pb::TestConnectionResponse, AdminError> {
        let record = self.vault.get(id).await?;
        let mut out = pb::TestConnectionResponse::default();
        let started = Instant::now();
        let token = self.tokens.refresh_now(id).await;
        out.steps
            .push(convert::step("token", token.is_ok(), started));
        let token = match token {
            Ok(t) => t,
            Err(e) => {
                out.error = Some(e.to_detail());
                return Ok(out);
            }
        };
        let started = Instant::now();
        let probe = probe::organization_config(&self.http, &record, &token).await;
        out.steps
            .push(convert::step("exchange", probe.is_ok(), started));
        match probe {
            Ok(name) => {
                out.ok = true;
                out.exchange_organization = name;
            }
            Err(e) => out.error = Some(e.to_detail()),
        }
        tracing::info!(connection.id = %id, ok = out.ok, "connection tested");
        Ok(out)
    }
}

fn id_of(raw: &str) -> Option<uuid::Uuid> {
    uuid::Uuid::try_parse(raw).ok()
}

#[tonic::async_trait]
impl ConnectionAdminService for ConnectionAdmin {
    async fn create_connection(
        &self,
        r: Request<pb::CreateConnectionRequest>,
    ) -> Result<Response<pb::CreateConnectionResponse>, Status> {
        let rec = self.recorder(names::CONNECTION_CREATE, CallerIdentity::of(&r).cloned());
        let res = self.create(r.into_inner(), &rec).await;
        let id = res
            .as_ref()
            .ok()
            .and_then(|c| c.connection.as_ref())
            .and_then(|c| id_of(&c.connection_id));
        rec.answer(id, res, None).await
    }

    async fn update_connection(
        &self,
        r: Request<pb::UpdateConnectionRequest>,
    ) -> Result<Response<pb::UpdateConnectionResponse>, Status> {
        let rec = self.recorder(names::CONNECTION_UPDATE, CallerIdentity::of(&r).cloned());
        let id = id_of(&r.get_ref().connection_id);
        let res = self.update(r.into_inner(), &rec).await;
        rec.answer(id, res, None).await
    }

    async fn rotate_credential(
        &self,
        r: Request<pb::RotateCredentialRequest>,
    ) -> Result<Response<pb::RotateCredentialResponse>, Status> {
        let rec = self.recorder(names::CONNECTION_ROTATE, CallerIdentity::of(&r).cloned());
        let id = id_of(&r.get_ref().connection_id);
        let res = self.rotate(r.into_inner(), &rec).await;
        rec.answer(id, res, None).await
    }

    async fn get_connection(
        &self,
        r: Request<pb::GetConnectionRequest>,
    ) -> Result<Response<pb::GetConnectionResponse>, Status> {
        let id = validate::connection_id(&r.get_ref().connection_id).map_err(AdminError::from)?;
        let record = self.vault.get(id).await.map_err(AdminError::from)?;
        Ok(Response::new(pb::GetConnectionResponse {
            connection: Some(convert::connection(&record)),
        }))
    }

    async fn list_connections(
        &self,
        r: Request<pb::ListConnectionsRequest>,
    ) -> Result<Response<pb::ListConnectionsResponse>, Status> {
        Ok(Response::new(self.list(r.into_inner()).await?))
    }

    async fn delete_connection(
        &self,
        r: Request<pb::DeleteConnectionRequest>,
    ) -> Result<Response<pb::DeleteConnectionResponse>, Status> {
        let rec = self.recorder(names::CONNECTION_DELETE, CallerIdentity::of(&r).cloned());
        let id = id_of(&r.get_ref().connection_id);
        let res = self.delete(r.into_inner(), &rec).await;
        rec.answer(id, res, None).await
    }

    async fn test_connection(
        &self,
        r: Request<pb::TestConnectionRequest>,
    ) -> Result<Response<pb::TestConnectionResponse>, Status> {
        let rec = self.recorder(names::CONNECTION_TEST, CallerIdentity::of(&r).cloned());
        let parsed = validate::connection_id(&r.get_ref().connection_id).map_err(AdminError::from);
        let id = parsed.as_ref().ok().copied();
        let res = match parsed {
            Ok(id) => self.test(id).await,
            Err(e) => Err(e),
        };
        let diagnosis = res
            .as_ref()
            .ok()
            .and_then(|t| t.error.as_ref())
            .map(convert::diagnosis_error);
        rec.answer(id, res, diagnosis.as_ref()).await
    }
}
