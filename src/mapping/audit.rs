//! One audit line per login: who (IdP + NameID), as whom (operator id), which rule, which
//! access group. The gateway calls [`audit`] after a successful mapping and
//! [`audit_refusal`] after a refused one.
//!
//! Values are written with Rust's string escaping (`"..."` with `\"`, `\n`, ...), so an
//! attribute value can never forge a second log line or a fake `key=value` pair.

use super::operator::Mapped;
use super::refusal::MappingRefusal;
use crate::saml::assertion::Claims;

/// `mapping outcome=mapped idp="..." name_id="..." operator="..." rule="rule #2 \"admins\" (line 14)" access_group="..." overage=false`
pub fn audit_line(mapped: &Mapped) -> String {
    let op = &mapped.operator;
    format!(
        "mapping outcome=mapped idp={:?} name_id={:?} operator={:?} rule={:?} access_group={:?} overage={}",
        op.idp,
        op.name_id,
        op.id,
        mapped.matched_rule.to_string(),
        op.access_group,
        mapped.overage
    )
}

/// `mapping outcome=refused idp="..." name_id="..." reason=denied detail="..."`
pub fn audit_refusal_line(claims: &Claims, refusal: &MappingRefusal) -> String {
    format!(
        "mapping outcome=refused idp={:?} name_id={:?} reason={} overage={} detail={:?}",
        claims.idp_entity_id,
        claims.name_id.value,
        refusal.kind(),
        refusal.is_overage(),
        refusal.to_string()
    )
}

/// Emits the audit event for a mapped login (target `samlgate::audit`), with structured
/// fields for JSON logs. Overage is logged at WARN: the admin should fix the IdP.
pub fn audit(mapped: &Mapped) {
    let op = &mapped.operator;
    let rule = mapped.matched_rule.to_string();
    if mapped.overage {
        tracing::warn!(
            target: "samlgate::audit",
            idp = %op.idp,
            name_id = %op.name_id,
            operator = %op.id,
            rule = %rule,
            access_group = %op.access_group,
            overage = true,
            "login mapped with Entra ID groups overage: rules skipped, default access group applied"
        );
    } else {
        tracing::info!(
            target: "samlgate::audit",
            idp = %op.idp,
            name_id = %op.name_id,
            operator = %op.id,
            rule = %rule,
            access_group = %op.access_group,
            overage = false,
            "login mapped"
        );
    }
}

/// Emits the audit event for a refused login.
pub fn audit_refusal(claims: &Claims, refusal: &MappingRefusal) {
    tracing::warn!(
        target: "samlgate::audit",
        idp = %claims.idp_entity_id,
        name_id = %claims.name_id.value,
        reason = refusal.kind(),
        overage = refusal.is_overage(),
        detail = %refusal,
        "login refused by the mapping table"
    );
}
