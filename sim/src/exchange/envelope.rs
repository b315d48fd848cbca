//! Exchange response and error envelopes (reference §2.1, §3.1, §3.2, §6).

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Value, json};

/// The domain controller named in "couldn't be found on '…'" messages.
pub(crate) const DC: &str = "SN4PR01A02DC001.NAMPR01A002.PROD.OUTLOOK.COM";
const BE_TARGET: &str = "SN4PR01MB0001.NAMPR01.PROD.OUTLOOK.COM";

/// A failed cmdlet: status, `error.code`, error id, exception type and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdletError {
    /// HTTP status.
    pub status: StatusCode,
    /// `error.code` (`NotFound`, `BadRequest`, `InternalServerError`).
    pub code: &'static str,
    /// Error id, the first `|` field (e.g. `Ex6F9304`).
    pub error_id: &'static str,
    /// Full exception type name, the second `|` field.
    pub exception: &'static str,
    /// Human text, the third `|` field.
    pub text: String,
}

const NOT_FOUND_EX: &str =
    "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException";
const BINDING_EX: &str = "System.Management.Automation.ParameterBindingException";

impl CmdletError {
    fn bad(error_id: &'static str, exception: &'static str, text: String) -> Self {
        CmdletError {
            status: StatusCode::BAD_REQUEST,
            code: "BadRequest",
            error_id,
            exception,
            text,
        }
    }

    /// `-Identity` not found (404).
    pub fn not_found(id: &str) -> Self {
        CmdletError {
            status: StatusCode::NOT_FOUND,
            code: "NotFound",
            error_id: "Ex6F9304",
            exception: NOT_FOUND_EX,
            text: format!(
                "The operation couldn't be performed because object '{id}' couldn't be found on '{DC}'."
            ),
        }
    }

    /// A referenced object (`-Member`, `-User`, `-Trustee`, `ManagedBy`) not found (404).
    pub fn ref_not_found(id: &str) -> Self {
        CmdletError {
            status: StatusCode::NOT_FOUND,
            code: "NotFound",
            error_id: "Ex94914C",
            exception: NOT_FOUND_EX,
            text: format!(
                "Couldn't find object \"{id}\". Please make sure that it was spelled correctly or specify a different object."
            ),
        }
    }

    /// More than one object matched.
    pub fn ambiguous(id: &str) -> Self {
        Self::bad(
            "Ex5C1A7E",
            "Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException",
            format!("The operation couldn't be performed because '{id}' matches multiple entries."),
        )
    }

    /// Member already in the group.
    pub fn member_exists(member: &str, group: &str) -> Self {
        Self::bad(
            "ExB0F2D1",
            "Microsoft.Exchange.Management.Tasks.MemberAlreadyExistsException",
            format!("The recipient \"{member}\" is already a member of the group \"{group}\"."),
        )
    }

    /// Member not in the group.
    pub fn member_not_found(member: &str, group: &str) -> Self {
        Self::bad(
            "ExC4E2A9",
            "Microsoft.Exchange.Management.Tasks.MemberNotFoundException",
            format!("The recipient \"{member}\" isn't a member of the group \"{group}\"."),
        )
    }

    /// An object with this name already exists.
    pub fn already_exists(dn: &str) -> Self {
        Self::bad(
            "Ex9E6B43",
            "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException",
            format!("The object '{dn}' already exists."),
        )
    }

    /// An SMTP address is already used.
    pub fn proxy_exists(address: &str, owner: &str) -> Self {
        Self::bad(
            "Ex2E3C17",
            "Microsoft.Exchange.Data.ProxyAddressExistsException",
            format!(
                "The proxy address \"SMTP:{address}\" is already being used by the proxy addresses or LegacyExchangeDN of \"{owner}\". Please choose another proxy address."
            ),
        )
    }

    /// Unknown parameter.
    pub fn unknown_parameter(name: &str) -> Self {
        Self::bad(
            "Ex4B5E27",
            BINDING_EX,
            format!("A parameter cannot be found that matches parameter name '{name}'."),
        )
    }

    /// A cmdlet a v2.0 endpoint does not accept.
    pub fn not_supported(cmdlet: &str, endpoint: &str) -> Self {
        Self::bad(
            "Ex7D21E4",
            "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
            format!("The cmdlet '{cmdlet}' is not supported by the '{endpoint}' endpoint."),
        )
    }

    /// Missing mandatory parameters.
    pub fn missing_parameters(names: &str) -> Self {
        Self::bad(
            "Ex4B5E27",
            BINDING_EX,
            format!(
                "Cannot process command because of one or more missing mandatory parameters: {names}."
            ),
        )
    }

    /// A parameter value that cannot be bound.
    pub fn invalid_value(name: &str, why: &str) -> Self {
        Self::bad(
            "Ex4B5E27",
            BINDING_EX,
            format!("Cannot bind parameter '{name}'. {why}"),
        )
    }

    /// A task-level validation failure.
    pub fn task(text: String) -> Self {
        Self::bad(
            "ExA13F52",
            "Microsoft.Exchange.Management.Tasks.RecipientTaskException",
            text,
        )
    }

    /// Short exception name (the `x-ExceptionType` header and counter label).
    pub fn short_type(&self) -> &'static str {
        self.exception.rsplit('.').next().unwrap_or(self.exception)
    }

    /// `ExId|Type|Text`.
    pub fn pipe_message(&self) -> String {
        format!("{}|{}|{}", self.error_id, self.exception, self.text)
    }
}

/// Headers every gateway answer carries.
pub(crate) fn common_headers(h: &mut HeaderMap, request_id: &str) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("request-id", v);
    }
    h.insert("X-CalculatedBETarget", HeaderValue::from_static(BE_TARGET));
    h.insert(
        "X-Ms-Appid",
        HeaderValue::from_static("00000002-0000-0ff1-ce00-000000000000"),
    );
}

fn warnings_fields(body: &mut serde_json::Map<String, Value>, warnings: &[String]) {
    body.insert(
        "adminapi.warnings@odata.type".into(),
        json!("#Collection(String)"),
    );
    body.insert("@adminapi.warnings".into(), json!(warnings));
}

/// A successful answer.
pub(crate) fn success(
    context: String,
    value: Vec<Value>,
    warnings: &[String],
    next_link: Option<String>,
    extra: Option<(&str, Value)>,
    request_id: &str,
) -> Response {
    let mut body = serde_json::Map::new();
    body.insert("@odata.context".into(), json!(context));
    warnings_fields(&mut body, warnings);
    if let Some((k, v)) = extra {
        body.insert(k.into(), v);
    }
    body.insert("value".into(), Value::Array(value));
    if let Some(link) = next_link {
        body.insert("@odata.nextLink".into(), json!(link));
    }
    let mut resp = (StatusCode::OK, axum::Json(Value::Object(body))).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"),
    );
    h.insert("OData-Version", HeaderValue::from_static("4.0"));
    h.insert(
        "Preference-Applied",
        HeaderValue::from_static("odata.include-annotations=\"*\""),
    );
    common_headers(h, request_id);
    resp
}

/// A cmdlet failure in the §3.1 envelope with `x-ExceptionType`.
pub(crate) fn cmdlet_error(e: &CmdletError, warnings: &[String], request_id: &str) -> Response {
    let mut body = serde_json::Map::new();
    body.insert(
        "error".into(),
        json!({
            "code": e.code,
            "message": "Error executing cmdlet",
            "details": [{"code": "Client", "target": "", "message": e.pipe_message()}],
            "innererror": {
                "message": "Error executing cmdlet",
                "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
                "stacktrace": "",
                "internalexception": {
                    "message": e.text,
                    "type": "Microsoft.Exchange.Management.PSDirectInvoke.DirectInvokeCmdletExecutionException",
                    "stacktrace": "",
                },
            },
        }),
    );
    warnings_fields(&mut body, warnings);
    let mut resp = (e.status, axum::Json(Value::Object(body))).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(e.short_type()) {
        h.insert("x-ExceptionType", v);
    }
    common_headers(h, request_id);
    resp
}

/// A gateway-level failure (`Unauthorized`, `TooManyRequests`, `ServiceUnavailable`...) whose
/// text is `error.message` (no `details`), as the RBAC refusal of §3.2.
pub(crate) fn gateway_error(
    status: StatusCode,
    code: &str,
    message: &str,
    request_id: &str,
) -> Response {
    let body = json!({
        "error": {
            "code": code,
            "message": message,
            "innererror": {
                "message": message,
                "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
                "stacktrace": "",
            },
        },
        "adminapi.warnings@odata.type": "#Collection(String)",
        "@adminapi.warnings": [],
    });
    let mut resp = (status, axum::Json(body)).into_response();
    common_headers(resp.headers_mut(), request_id);
    resp
}

/// The unknown-cmdlet answer: 403 with a body of NUL bytes labelled gzip that is not gzip.
pub(crate) fn unknown_cmdlet(request_id: &str) -> Response {
    let mut resp = (StatusCode::FORBIDDEN, vec![0u8; 10]).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    common_headers(h, request_id);
    resp
}

/// A success whose body claims gzip but is not (the "unreadable body" fault of §3.2).
pub(crate) fn corrupt_gzip(request_id: &str) -> Response {
    let mut resp = (StatusCode::OK, vec![0u8; 16]).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;odata.metadata=minimal;charset=utf-8"),
    );
    common_headers(h, request_id);
    resp
}
